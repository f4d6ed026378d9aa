import Engine
import Glibc
import Responders
import Tables
import Wire

/// TFTP on a ring (every ring: port 69 is shared with SO_REUSEPORT). The policy is
/// `TFTPTransfer`'s and `TFTPPathResolver`'s; this is the I/O around them.
///
/// - A read request on port 69 is resolved to a path beneath the files root. A boot-config
///   name (`pxelinux.cfg/01-<mac>`, `ipxe.cfg`, `grub/grub.cfg…`) is rendered from the tables
///   into a buffer of its own; any other name is opened beneath the root (`FilesRoot`:
///   `openat2` with `RESOLVE_BENEATH`) and mapped read-only, and DATA blocks leave straight
///   from the mapping as the send's second iovec, so file bytes are never copied by us.
/// - Refusals (write requests, names outside the root, missing files) are answered from port 69
///   itself: no socket is spent on a request that gets no transfer.
/// - Each transfer gets its own socket (its TID, RFC 1350 §4) bound to the address the request
///   came to, on an ephemeral port. The socket is *not* connected: a connected UDP socket
///   never sees a stranger's packet (the kernel answers with ICMP port unreachable), and
///   RFC 1350 §4 asks for more: "If a source TID does not match, the packet should be
///   discarded as erroneously sent from somewhere else. An error packet should be sent to the
///   source of the incorrect packet, while not disturbing the transfer."
/// - Transfers live in an array indexed by their socket's table index (one load per packet, as
///   the registry's routing); each has at most one timer, re-armed lazily: a deadline that moves
///   later (every ACK) costs nothing until the old timer fires.
/// - Thousands of transfers per ring: nothing here is per-packet allocation; a stalled transfer
///   ends when `TFTPTransfer` gives up (`maximumRetries` backed-off timeouts), and then its
///   socket, timer and bytes are released.
final class TFTPService: RackService, @unchecked Sendable {
    /// Path MTU when nothing better is known: Ethernet. Blocks of at most 1468 bytes.
    static let pathMTU = 1500
    /// netascii means converting the whole file into memory first (`TFTPNetascii`); larger
    /// files must be fetched in octet mode.
    static let netasciiLimit = 16 << 20
    /// How long released bytes stay mapped after their transfer ended: sends already queued
    /// may still read them (a DATA retransmission submitted in the same batch as the ACK that
    /// finished the transfer), and the address must not be reused for another file until they
    /// have left.
    static let retirementMilliseconds: UInt64 = 2000

    let tables: TableStore
    let port: UInt16
    /// Serves from here rather than the tables' files root (`RackOptions.filesRoot`).
    let filesRootOverride: String?
    let log: RackLog
    let counters = TFTPCounters()
    let limits = TFTPTransferLimits.ipv4(pathMTU: TFTPService.pathMTU)
    /// Boot steps for the region (a connected rack only).
    var boots: BootRecorder?
    /// The file the request being decided names, while `request` runs: a refusal records it.
    private var requestName: UnsafeRawBufferPointer?

    private var snapshot: TableSnapshot
    private var generation: UInt64
    private var root: FilesRoot?
    private var resolver = TFTPPathResolver()
    private var bootConfigs = BootConfigResponder()
    private var listener: SocketID?
    private var registry: ServiceRegistry?
    private var ringIndex = 0
    /// Index: the transfer socket's table index.
    private var sessions: [TFTPSession?] = []
    /// Live transfers by client TID, to recognise a repeated RRQ.
    private var sessionsByPeer: [IPv4Endpoint: SocketID] = [:]
    /// Bytes of ended transfers, oldest first, released once `retirementMilliseconds` passed.
    private var retired: [(releaseAt: UInt64, bytes: TFTPTransferBytes)] = []
    private var retiredHead = 0
    private let pathBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TFTPPathResolver.maximumPathLength + 1, alignment: 1)
    private let renderBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)

    init(tables: TableStore, port: UInt16, filesRoot: String? = nil, log: RackLog) {
        self.tables = tables
        self.filesRootOverride = filesRoot
        self.port = port
        self.log = log
        snapshot = tables.snapshot
        generation = snapshot.generation
    }

    /// Runs after the engine has stopped (no send can still be reading): live transfers' and
    /// retired transfers' bytes are released here, or a rack stopped and started in one process
    /// (tests) would leak them.
    deinit {
        for case let session? in sessions { session.bytes.release() }
        for entry in retired[retiredHead...] { entry.bytes.release() }
        pathBuffer.deallocate()
        renderBuffer.deallocate()
    }

    func start(ring: RingContext, services: ServiceRegistry) throws {
        registry = services
        ringIndex = ring.index
        let socket = try ring.openUDP(UDPSocketOptions(bind: .any(port: port), reusePort: true, packetInfo: true))
        listener = socket
        services.register(socket, for: self)
        openRoot()
    }

    // MARK: Datagrams

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        if datagram.socket == listener {
            request(datagram, ring: ring)
            return
        }
        let index = Int(datagram.socket.index)
        guard index < sessions.count, let session = sessions[index], session.socket == datagram.socket else { return }
        guard datagram.source == session.peer else {
            unknownTransferID(datagram, ring: ring)
            return
        }
        let step = session.transfer.received(datagram.payload, now: ring.now)
        perform(step, for: session, ring: ring)
    }

    /// The retirement sweep's timer token: an index no socket has (tables hold far fewer than
    /// 2^24 sockets), generation 0.
    static let sweepToken: UInt64 = 0xFF_FFFF
    private var sweepTimer: TimerID?

    func timerFired(token: UInt64, ring: RingContext) {
        if token == Self.sweepToken {
            sweepTimer = nil
            releaseRetired(ring: ring)
            return
        }
        let index = Int(token & 0xFF_FFFF)
        let generation = UInt32(truncatingIfNeeded: token >> 24) & 0xFF_FFFF
        guard index < sessions.count, let session = sessions[index], session.socket.generation == generation else { return }
        session.timer = nil
        let step = session.transfer.timerFired(now: ring.now)
        if session.transfer.isLive, !step.isEmpty { counters.retransmissions &+= 1 }
        perform(step, for: session, ring: ring)
    }

    /// Frees retired transfers' bytes whose grace time has passed; while some remain, a timer
    /// comes back for them, so an idle ring frees them too.
    private func releaseRetired(ring: RingContext) {
        while retiredHead < retired.count, retired[retiredHead].releaseAt <= ring.now {
            retired[retiredHead].bytes.release()
            retiredHead += 1
        }
        if retiredHead > 0, retiredHead == retired.count || retiredHead >= 1024 {
            retired.removeFirst(retiredHead)
            retiredHead = 0
        }
        if retiredHead < retired.count, sweepTimer == nil, let registry {
            let next = retired[retiredHead].releaseAt
            sweepTimer = ring.schedule(afterMilliseconds: next > ring.now ? next - ring.now : 0,
                                       token: registry.timerToken(Self.sweepToken, for: self))
        }
    }

    func batchEnded(ring: RingContext) {
        releaseRetired(ring: ring)
        if tables.generation != generation {
            snapshot = tables.snapshot
            generation = snapshot.generation
            openRoot()
        }
    }

    // MARK: Requests

    /// An RRQ (or anything else) on port 69.
    private func request(_ datagram: ReceivedDatagram, ring: RingContext) {
        // The local address the request came to: replies (and the transfer) come from it.
        let local = datagram.localAddress != 0 ? datagram.localAddress
            : (datagram.destinationAddress != IPv4Endpoint.limitedBroadcast ? datagram.destinationAddress : 0)
        guard !datagram.truncated, let packet = try? TFTPPacket.parse(datagram.payload) else {
            count(.malformed)
            // A request the codec refuses (no mode after the name, an unknown mode — which is
            // also where a NUL inside a file name leads) is answered, as tftp-hpa does: its
            // sender waits for a reply. Anything else malformed on port 69 is dropped.
            let payload = datagram.payload
            if payload.count >= 2, payload[0] == 0, payload[1] == 1 || payload[1] == 2 {
                refuse(datagram, local: local, code: .illegalOperation, message: "malformed request", ring: ring)
            }
            return
        }
        let request: TFTPRequest
        switch packet {
        case .readRequest(let r), .writeRequest(let r):
            request = r
        case .data, .acknowledgement, .error, .optionAcknowledgement:
            // Not a request: no transfer is known by port 69, and answering strays here could
            // start an error ping-pong with another server.
            count(.malformed)
            return
        }
        if boots != nil { requestName = UnsafeRawBufferPointer(rebasing: request.bytes[request.filenameRange]) }
        defer { requestName = nil }

        if request.opcode == .writeRequest || request.mode == .mail {
            // TFTPTransfer owns the refusal (code, message); it never gets a socket.
            var refused = TFTPTransfer(request: request, size: 0, limits: limits)
            for case .sendError(let code, let message) in refused.start(now: ring.now) {
                refuse(datagram, local: local, code: code, message: message, ring: ring)
            }
            count(request.opcode == .writeRequest ? .writeRequest : .mailMode)
            return
        }
        if let existing = sessionsByPeer[datagram.source], let session = sessions[Int(existing.index)],
           session.socket == existing, session.transfer.acknowledged == 0 {
            // The client resent its RRQ before our first reply arrived; the transfer's own
            // timer resends that reply. A second transfer would only be refused by the client.
            count(.duplicateRequest)
            return
        }

        let length: Int
        switch resolver.resolve(request.filename, into: pathBuffer) {
        case .refused(let reason):
            counters.pathsRefused[reason.rawValue] &+= 1
            count(reason == .empty ? .fileNotFound : .pathRefused)
            refuse(datagram, local: local, code: reason.errorCode, message: reason.message, ring: ring)
            return
        case .path(let n, _):
            length = n
        }
        let path = UnsafeRawBufferPointer(rebasing: pathBuffer[0..<length])
        let configRequest = BootConfigRequest(client: IPv4Address(datagram.source.address), local: IPv4Address(local))
        let bytes: TFTPTransferBytes
        switch bootConfigs.respond(path: path, request: configRequest, tables: snapshot, output: renderBuffer) {
        case .config(let n, _, _, _):
            bytes = .copy(UnsafeRawBufferPointer(rebasing: renderBuffer[0..<n]), netascii: request.mode == .netascii)
            counters.bootConfigsServed &+= 1
        case .noSuchConfig:
            count(.noSuchConfig)
            refuse(datagram, local: local, code: .fileNotFound, message: "file not found", ring: ring)
            return
        case .notABootConfig:
            guard let file = openFile(length: length, netascii: request.mode == .netascii, datagram, local: local, ring: ring) else { return }
            bytes = file
        }

        let transfer = TFTPTransfer(request: request, size: UInt64(bytes.bytes.count), limits: limits)
        let socket: SocketID
        do {
            socket = try ring.openUDP(UDPSocketOptions(bind: IPv4Endpoint(address: local, port: 0), packetInfo: false))
        } catch {
            bytes.release()
            count(.noTransferSocket)
            refuse(datagram, local: local, code: .notDefined, message: "server busy", ring: ring)
            return
        }
        registry?.register(socket, for: self)
        let session = TFTPSession(socket: socket, peer: datagram.source, transfer: transfer, bytes: bytes)
        if let requestName { session.name = BootRecorder.Name(requestName) }
        sessions.grow(toInclude: Int(socket.index), with: nil)
        sessions[Int(socket.index)] = session
        sessionsByPeer[datagram.source] = socket
        counters.transfersStarted &+= 1
        counters.activeTransfers += 1
        let step = session.transfer.start(now: ring.now)
        perform(step, for: session, ring: ring)
    }

    /// Opens and maps the file `pathBuffer[0..<length]` names (converted when netascii), or
    /// answers the client with the reason it cannot be served and returns nil.
    private func openFile(length: Int, netascii: Bool, _ datagram: ReceivedDatagram, local: UInt32,
                          ring: RingContext) -> TFTPTransferBytes? {
        guard let root else {
            count(.fileNotFound)
            refuse(datagram, local: local, code: .fileNotFound, message: "file not found", ring: ring)
            return nil
        }
        switch root.openFile(UnsafeRawBufferPointer(rebasing: pathBuffer[0...length])) {
        case .failure(let failure):
            switch failure {
            case .notFound:
                count(.fileNotFound)
                refuse(datagram, local: local, code: .fileNotFound, message: "file not found", ring: ring)
            case .outsideRoot:
                counters.pathsRefused[TFTPPathRefusal.symbolicLinkEscape.rawValue] &+= 1
                count(.outsideRoot)
                let reason = TFTPPathRefusal.symbolicLinkEscape
                refuse(datagram, local: local, code: reason.errorCode, message: reason.message, ring: ring)
            case .notRegularFile:
                count(.notRegularFile)
                refuse(datagram, local: local, code: .accessViolation, message: "not a regular file", ring: ring)
            case .permissionDenied:
                count(.permissionDenied)
                refuse(datagram, local: local, code: .accessViolation, message: "permission denied", ring: ring)
            case .failed:
                count(.unreadable)
                refuse(datagram, local: local, code: .notDefined, message: "cannot read file", ring: ring)
            }
            return nil
        case .success(let (fd, status)):
            let size = Int(status.st_size)
            defer { close(fd) }
            if netascii, size > Self.netasciiLimit {
                count(.netasciiTooLarge)
                refuse(datagram, local: local, code: .notDefined, message: "file too large for netascii; use octet", ring: ring)
                return nil
            }
            guard let mapped = TFTPTransferBytes.map(fd, size: size) else {
                count(.unreadable)
                refuse(datagram, local: local, code: .notDefined, message: "cannot read file", ring: ring)
                return nil
            }
            guard netascii else { return mapped }
            let converted = TFTPTransferBytes.copy(mapped.bytes, netascii: true)
            mapped.release()
            return converted
        }
    }

    // MARK: Transfers

    /// Performs a step's actions in order, then keeps the transfer's timer for its deadline.
    private func perform(_ step: TFTPTransferStep, for session: TFTPSession, ring: RingContext) {
        if let ignored = step.ignored { counters.packetsIgnored[ignored.rawValue] &+= 1 }
        var slotsLeft = true
        var run = DataRun()
        for action in step {
            switch action {
            case .sendData(let block, let offset, let length):
                guard slotsLeft else {
                    counters.slotsExhausted &+= 1
                    continue
                }
                let start = Int(offset)
                if run.slot != nil, !run.accepts(start: start, length: length) { flush(&run, for: session, ring: ring) }
                if run.slot == nil {
                    guard let slot = ring.allocateSlot() else {
                        // The rest of the window waits for the retransmission timeout.
                        slotsLeft = false
                        counters.slotsExhausted &+= 1
                        continue
                    }
                    let chunk = max(length, 1)
                    run = DataRun(slot: slot, start: start, chunk: chunk, limit: ring.segmentLimit(headerLength: 4, chunk: chunk))
                }
                run.append(block: block, length: length)
                counters.bytesSent &+= UInt64(length)
                counters.dataPacketsSent &+= 1
            case .sendOptionAcknowledgement, .sendError:
                flush(&run, for: session, ring: ring)
                guard let slot = ring.allocateSlot() else { continue }
                guard let datagram = try? TFTPDatagramWriter.write(action, into: slot.buffer) else {
                    ring.release(slot)
                    continue
                }
                ring.send(slot, length: datagram.length, on: session.socket, to: session.peer)
            case .finished:
                flush(&run, for: session, ring: ring)
                counters.transfersFinished &+= 1
                boots?.record(.tftp, address: session.peer.address, name: session.name, outcome: "ok",
                              bytes: UInt64(session.bytes.bytes.count))
                end(session, ring: ring)
                return
            case .abort(let reason):
                flush(&run, for: session, ring: ring)
                counters.transfersAborted[reason.rawValue] &+= 1
                boots?.record(.tftp, address: session.peer.address, name: session.name,
                              outcome: Self.bootOutcome(reason, acknowledged: session.transfer.acknowledged),
                              bytes: 0)
                end(session, ring: ring)
                return
            }
        }
        flush(&run, for: session, ring: ring)
        if let deadline = step.deadline { arm(session, at: deadline, ring: ring) }
    }

    /// Consecutive DATA blocks of one window, gathered into one send: their 4-byte headers side
    /// by side in one slot, their bytes one contiguous range of the file. On io_uring they
    /// leave as one UDP GSO send, one system call and one trip through the stack for the whole
    /// window (RFC 7440); a lock-step transfer's runs are one block long.
    struct DataRun {
        var slot: SendSlot?
        var start = 0
        var chunk = 1
        var limit = 1
        var count = 0
        var total = 0

        init() {}

        init(slot: SendSlot, start: Int, chunk: Int, limit: Int) {
            self.slot = slot
            self.start = start
            self.chunk = chunk
            self.limit = limit
        }

        /// Whether a block fits on: it must follow the last one in the file, the run must have
        /// room, and every block but the last must be a whole chunk.
        func accepts(start next: Int, length: Int) -> Bool {
            count < limit && next == start + total && total == count * chunk && length <= chunk
        }

        mutating func append(block: UInt16, length: Int) {
            _ = try? TFTPDatagramWriter.writeDataHeader(block: block, into: UnsafeMutableRawBufferPointer(rebasing: slot!.buffer[count * 4..<count * 4 + 4]))
            count += 1
            total += length
        }
    }

    private func flush(_ run: inout DataRun, for session: TFTPSession, ring: RingContext) {
        guard let slot = run.slot else { return }
        // A run of one block is a plain send; sendSegmented decides.
        ring.sendSegmented(slot, headerLength: 4, count: run.count,
                           body: UnsafeRawBufferPointer(rebasing: session.bytes.bytes[run.start..<run.start + run.total]),
                           chunk: run.chunk, on: session.socket, to: session.peer)
        run = DataRun()
    }

    /// At most one timer per transfer. A later deadline leaves the armed timer alone (it fires,
    /// `timerFired` finds nothing due and re-arms), so an ACK costs no timer operation; only an
    /// earlier one (the timeout reset after backing off) reschedules.
    private func arm(_ session: TFTPSession, at deadline: UInt64, ring: RingContext) {
        if let timer = session.timer {
            if session.timerDue <= deadline { return }
            ring.cancel(timer)
        }
        let token = UInt64(session.socket.generation & 0xFF_FFFF) << 24 | UInt64(session.socket.index)
        guard let registry else { return }
        session.timer = ring.schedule(afterMilliseconds: deadline > ring.now ? deadline - ring.now : 0,
                                      token: registry.timerToken(token, for: self))
        session.timerDue = deadline
    }

    /// Releases everything a transfer holds: timer, socket, routing, and (later) its bytes.
    private func end(_ session: TFTPSession, ring: RingContext) {
        if let timer = session.timer { ring.cancel(timer) }
        session.timer = nil
        registry?.unregister(session.socket)
        ring.close(session.socket)
        sessions[Int(session.socket.index)] = nil
        if sessionsByPeer[session.peer] == session.socket { sessionsByPeer[session.peer] = nil }
        retire(session.bytes, now: ring.now)
        counters.activeTransfers -= 1
    }

    private func retire(_ bytes: TFTPTransferBytes, now: UInt64) {
        if case .empty = bytes { return }
        retired.append((now + Self.retirementMilliseconds, bytes))
    }

    // MARK: Replies without a transfer

    /// An ERROR from port 69 to the requester, from the address it asked.
    private func refuse(_ datagram: ReceivedDatagram, local: UInt32, code: TFTPErrorCode, message: StaticString, ring: RingContext) {
        if let boots, let requestName {
            boots.record(.tftp, address: datagram.source.address, name: requestName, outcome: message, bytes: 0)
        }
        guard let slot = ring.allocateSlot() else { return }
        var writer = WireWriter(slot.buffer)
        guard (try? TFTPPacket.writeError(code, message: message, into: &writer)) != nil else {
            ring.release(slot)
            return
        }
        ring.send(slot, length: writer.count, on: datagram.socket, to: datagram.source, from: local)
    }

    /// A packet on a transfer's port from someone else: ERROR 5 to them, the transfer untouched.
    /// An ERROR is never answered (RFC 1350 §7), so two confused peers cannot loop.
    private func unknownTransferID(_ datagram: ReceivedDatagram, ring: RingContext) {
        counters.unknownTransferIDs &+= 1
        if datagram.payload.count >= 2, datagram.payload[0] == 0, datagram.payload[1] == UInt8(TFTPOpcode.error.rawValue) { return }
        guard let slot = ring.allocateSlot() else { return }
        var writer = WireWriter(slot.buffer)
        guard (try? TFTPPacket.writeError(.unknownTransferID, message: "unknown transfer ID", into: &writer)) != nil else {
            ring.release(slot)
            return
        }
        ring.send(slot, length: writer.count, on: datagram.socket, to: datagram.source)
    }

    /// How an aborted transfer reads in a boot history. pxelinux and iPXE ask for a file's
    /// size (tsize) and stop at the OACK before fetching it: that is a probe, not a failure.
    static func bootOutcome(_ reason: TFTPAbortReason, acknowledged: UInt64) -> StaticString {
        switch reason {
        case .clientError where acknowledged == 0, .optionsRefusedByClient where acknowledged == 0: "size probe"
        case .clientError: "stopped by the client"
        case .optionsRefusedByClient: "options refused by the client"
        case .timedOut: "timed out"
        case .acknowledgementOutOfRange, .unexpectedPacket: "protocol error"
        case .writeRequest, .mailMode: "refused"
        }
    }

    private func count(_ refusal: TFTPRequestRefusal) {
        counters.requestsRefused[refusal.rawValue] &+= 1
    }

    // MARK: Tables

    /// Opens the files root the tables name: at start and on every new generation, so a reload
    /// also picks up a root directory that was replaced under the same path.
    private func openRoot() {
        let wanted = filesRootOverride ?? String(decoding: snapshot.filesRoot, as: UTF8.self)
        resolver = TFTPPathResolver(rootPath: Array(wanted.utf8))
        let changed = root?.path != wanted
        root = wanted.isEmpty ? nil : FilesRoot(path: wanted)
        guard ringIndex == 0 else { return }
        if root == nil {
            // Once per path, not once per generation: a connected rack gets many.
            if missingRootWarned != wanted {
                log.warning("tftp: files root \(wanted.isEmpty ? "(none)" : wanted) cannot be opened; every file request gets \"file not found\"")
                missingRootWarned = wanted
            }
        } else {
            missingRootWarned = nil
            if changed { log.info("tftp: serving files beneath \(wanted) on port \(port)") }
        }
    }

    /// The files root last reported missing.
    private var missingRootWarned: String?
}

/// One transfer: its socket (TID), its client, the state machine and the bytes it serves.
final class TFTPSession {
    let socket: SocketID
    let peer: IPv4Endpoint
    var transfer: TFTPTransfer
    let bytes: TFTPTransferBytes
    var timer: TimerID?
    var timerDue: UInt64 = 0
    /// The requested name, for the boot history (empty unless the rack records boots).
    var name = BootRecorder.Name()

    init(socket: SocketID, peer: IPv4Endpoint, transfer: TFTPTransfer, bytes: TFTPTransferBytes) {
        self.socket = socket
        self.peer = peer
        self.transfer = transfer
        self.bytes = bytes
    }
}
