import CLinuxShims
import Engine
import Glibc
import Responders
import Tables
import Wire

/// How the image server runs (from `RackOptions`).
struct HTTPServiceSettings {
    var port: UInt16 = 5248
    /// A connection with no bytes either way for this long is closed (the engine's listener
    /// option; a long file send counts as activity).
    var idleTimeoutMilliseconds: UInt64 = 30_000
    /// A request head must arrive whole within this long of its first byte, whatever the
    /// trickle: a slow-header client is answered 408 and closed.
    var headTimeoutMilliseconds: UInt64 = 10_000
    /// After an error response, how long unread request bytes are drained before closing.
    var lingerMilliseconds: UInt64 = 2_000
    /// One info line per request through the rack's log. Off by default: the hot path logs
    /// nothing unless asked.
    var accessLog = false
    /// Serve from here rather than the tables' files root (`RackOptions.filesRoot`).
    var filesRoot: String?
    /// Our address for `{http}` in boot configs when neither the boot profile nor the subnet
    /// names a next-server and the request's Host is not an address (`--address`).
    var address: IPv4Address?
}

/// The image server on one ring (every ring runs one; SO_REUSEPORT spreads connections):
/// GET and HEAD of files beneath the site's files root, sent zero-copy with `sendFile`, and
/// boot configs rendered from the tables per request.
///
/// Files are opened per request (`openat2` beneath the root) and closed when their body is
/// out, rather than kept in a descriptor cache: a kernel or image replaced on disk is served
/// at once with validators that match its bytes, nothing needs invalidating, and the cost —
/// `openat2`, `fstat`, `fcntl`, `close` on a hot dentry — is small beside the response's own
/// sends (nginx's default too: `open_file_cache` is off unless configured).
///
/// Per connection: parse a head (from the receive buffer directly when nothing is pending),
/// let the policy decide, send the head from a slot, then the file range with `sendFile` or
/// the rest of a generated body from more slots; one send at a time. Bytes that arrive while
/// a response is going out (pipelined requests) wait in the connection's buffer and are
/// parsed, in order, when it is done.
///
/// `@unchecked Sendable`: the service is used only on its ring's thread; the metrics endpoint
/// on ring 0 reads `counters`, which are made for that.
final class HTTPService: RackService, @unchecked Sendable {
    let settings: HTTPServiceSettings
    let tables: TableStore
    let log: RackLog
    let counters = HTTPCounters()
    /// Boot steps for the region (a connected rack only).
    var boots: BootRecorder?

    private var snapshot: TableSnapshot
    private var generation: UInt64
    private var boot: BootConfigResponder
    private var root: FilesRoot?
    /// The files root path `root` was opened for, and when to try again if it failed.
    private var rootPath: String?
    private var rootRetryAt: UInt64 = 0
    /// Reservation address → hostname, for the access log; rebuilt when the tables change.
    private var hostnames: [UInt32: String] = [:]

    private var listener: SocketID?
    private var registry: ServiceRegistry?
    private var connections: [HTTPConnection] = []
    /// Decoded request path and its confined form (NUL-terminated), then rendered configs.
    private let decoded = UnsafeMutableRawBufferPointer.allocate(byteCount: TFTPPathResolver.maximumPathLength + 1, alignment: 8)
    private let path = UnsafeMutableRawBufferPointer.allocate(byteCount: TFTPPathResolver.maximumPathLength + 1, alignment: 8)
    private let rendered = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)

    /// Buffered bytes per connection beyond which a client that pipelines without reading is
    /// cut off.
    static let maximumBuffered = 256 * 1024
    static let limits = HTTPHeadLimits()
    /// Refusals after which the client is likely still sending: a bad or oversized head, a
    /// body we did not read.
    static let lingeringStatuses: Set<UInt16> = [400, 405, 408, 413, 431, 501, 505]

    init(settings: HTTPServiceSettings, tables: TableStore, templates: BootTemplates, log: RackLog) {
        self.settings = settings
        self.tables = tables
        self.log = log
        snapshot = tables.snapshot
        generation = snapshot.generation
        boot = BootConfigResponder(templates: templates)
    }

    /// The service `rackplane rack` runs: settings from its options; boot configs name our
    /// port.
    convenience init(options: RackOptions, tables: TableStore, log: RackLog) {
        var settings = HTTPServiceSettings()
        settings.port = options.httpPort
        settings.accessLog = options.accessLog
        settings.filesRoot = options.effectiveFilesRoot
        settings.address = options.address
        var templates = BootTemplates.standard
        templates.httpPort = options.httpPort
        self.init(settings: settings, tables: tables, templates: templates, log: log)
    }

    deinit {
        decoded.deallocate()
        path.deallocate()
        rendered.deallocate()
    }

    /// Boot configs rendered for HTTP on this ring.
    var bootCounters: BootConfigCounters { boot.counters }

    func start(ring: RingContext, services: ServiceRegistry) throws {
        registry = services
        let listener = try ring.listenTCP(TCPListenerOptions(bind: .any(port: settings.port), reusePort: true,
                                                            idleTimeoutMilliseconds: settings.idleTimeoutMilliseconds))
        self.listener = listener
        services.register(listener, for: self)
        tablesChanged(ring: ring)
    }

    // MARK: Tables

    func batchEnded(ring: RingContext) {
        if tables.generation != generation { tablesChanged(ring: ring) }
    }

    /// A new generation: take the snapshot, reopen the root if it moved, rebuild the
    /// hostname map (once per generation, not per request).
    private func tablesChanged(ring: RingContext) {
        snapshot = tables.snapshot
        generation = snapshot.generation
        let wanted = settings.filesRoot ?? String(decoding: snapshot.filesRoot, as: UTF8.self)
        if wanted != rootPath {
            rootPath = wanted
            root = nil
            rootRetryAt = 0
            openRoot(ring: ring)
        }
        hostnames = [:]
        if settings.accessLog {
            for i in 0..<snapshot.reservationCount {
                let reservation = snapshot.reservation(i)
                if let address = reservation.address, !reservation.hostname.isEmpty {
                    hostnames[address.value] = String(decoding: reservation.hostname, as: UTF8.self)
                }
            }
        }
    }

    /// The files root last reported missing (reported once per path, not per generation).
    private var missingRootWarned: String?

    /// Opens the files root; on failure says so once and tries again at most once a second,
    /// from requests (a root made after the rack started is picked up).
    private func openRoot(ring: RingContext) {
        guard let wanted = rootPath, !wanted.isEmpty, ring.now >= rootRetryAt else { return }
        if let opened = FilesRoot(path: wanted) {
            root = opened
            missingRootWarned = nil
        } else {
            if rootRetryAt == 0, missingRootWarned != wanted {
                log.warning("http: files root \(wanted): \(String(cString: strerror(errno))); files answer 404 until it exists")
                missingRootWarned = wanted
            }
            rootRetryAt = ring.now + 1_000
        }
    }

    // MARK: Events

    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, ring: RingContext) {
        connections.grow(toInclude: Int(connection.index), with: HTTPConnection())
        connections[Int(connection.index)] = HTTPConnection(id: connection, peer: peer)
    }

    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {
        let i = Int(connection.index)
        guard connections[i].id == connection else { return }
        if connections[i].lingering || connections[i].closeAfter {
            // The answer is decided; what else the client sends is read and dropped.
            return
        }
        if connections[i].responding || !connections[i].received.isEmpty {
            guard connections[i].received.count + bytes.count <= Self.maximumBuffered else {
                ring.close(connection)
                return
            }
            connections[i].received.append(contentsOf: bytes)
            if !connections[i].responding { serveBuffered(i, ring: ring) }
            return
        }
        // The common case: a whole request in this receive, parsed where the kernel put it.
        let consumed = serve(bytes, i, ring: ring)
        if consumed < bytes.count, !connections[i].closeAfter, connections[i].id == connection {
            connections[i].received.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            // consumed == 0: an incomplete head, just parsed; wait for more.
            if consumed > 0, !connections[i].responding { serveBuffered(i, ring: ring) }
        }
    }

    func sendCompleted(on connection: ConnectionID, ring: RingContext) {
        let i = Int(connection.index)
        guard connections[i].id == connection, connections[i].responding else { return }
        if connections[i].generatedSent < connections[i].generated.count {
            sendGenerated(i, ring: ring)
        } else if connections[i].file >= 0, !connections[i].fileStarted {
            connections[i].fileStarted = true
            let body = connections[i].body
            ring.sendFile(connections[i].file, offset: Int64(body.offset), length: Int64(body.length), on: connection)
        } else {
            finishResponse(i, ring: ring)
        }
    }

    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {
        let i = Int(connection.index)
        guard connections[i].id == connection else { return }
        if connections[i].responding {
            counters.responsesAborted &+= 1
            if settings.accessLog { logAccess(i, note: " aborted (\(reason))") }
            recordBoot(i, completed: false)
        }
        if connections[i].file >= 0 { Glibc.close(connections[i].file) }
        connections[i] = HTTPConnection()
    }

    func timerFired(token: UInt64, ring: RingContext) {
        let i = Int(token & 0xFF_FFFF)
        guard i < connections.count, let id = connections[i].id, UInt64(id.generation & 0xFF_FFFF) == token >> 24 else { return }
        connections[i].timerArmed = false
        let deadline = connections[i].deadline
        guard deadline != 0 else { return }
        guard ring.now >= deadline else {
            armTimer(i, ring: ring)
            return
        }
        connections[i].deadline = 0
        if connections[i].lingering {
            ring.close(id)
        } else if !connections[i].responding, !connections[i].received.isEmpty {
            // RFC 9110 §15.5.9: 408 "indicates that the server did not receive a complete
            // request message within the time that it was prepared to wait".
            connections[i].received = []
            sendError(.requestTimeout, method: .get, persistent: false, i, ring: ring)
        }
    }

    // MARK: Requests

    /// Parses and answers at most one request at the start of `bytes`; returns the bytes it
    /// used (0 when the head is incomplete).
    private func serve(_ bytes: UnsafeRawBufferPointer, _ i: Int, ring: RingContext) -> Int {
        let head: HTTPRequestHead
        do {
            switch try HTTPRequestHead.parse(bytes, limits: Self.limits) {
            case .incomplete:
                if connections[i].deadline == 0 {
                    connections[i].deadline = ring.now + settings.headTimeoutMilliseconds
                    armTimer(i, ring: ring)
                }
                return 0
            case .complete(let complete):
                head = complete
            }
        } catch {
            connections[i].deadline = 0
            if settings.accessLog { connections[i].logRequest = "-" }
            sendError(HTTPRequestPolicy.status(for: error, in: bytes), method: .get, persistent: false, i, ring: ring)
            return bytes.count
        }
        connections[i].deadline = 0
        respond(to: head, i, ring: ring)
        return head.length
    }

    /// Serves what is buffered while no response is in progress.
    private func serveBuffered(_ i: Int, ring: RingContext) {
        while let id = connections[i].id, !connections[i].responding, !connections[i].closeAfter,
              !connections[i].received.isEmpty {
            // Moved out while it is read, so answering may touch the entry freely.
            var buffer = connections[i].received
            connections[i].received = []
            let consumed = buffer.withUnsafeBytes { serve($0, i, ring: ring) }
            guard connections[i].id == id, !connections[i].closeAfter else { return }
            if consumed == 0 {
                connections[i].received = buffer
                return
            }
            buffer.removeFirst(consumed)
            connections[i].received = buffer
        }
    }

    private func respond(to head: HTTPRequestHead, _ i: Int, ring: RingContext) {
        if boots != nil { connections[i].bootName = BootRecorder.Name(head.target) }
        if settings.accessLog {
            connections[i].logRequest = String(decoding: head.methodBytes, as: UTF8.self) + " " + String(decoding: head.target, as: UTF8.self)
        }
        let (method, persistent): (HTTPMethod, Bool)
        switch HTTPRequestPolicy.admit(head) {
        case .refuse(let status, let persistent):
            return sendError(status, method: head.method, persistent: persistent, i, ring: ring)
        case .serve(let m, let p):
            (method, persistent) = (m, p)
        }
        let length: Int
        switch HTTPRequestTarget.resolve(head.target, scratch: decoded, into: path) {
        case .refused(let reason):
            return sendError(reason.status, method: method, persistent: persistent, i, ring: ring)
        case .path(let n):
            length = n
        }
        let relative = UnsafeRawBufferPointer(rebasing: path[0..<length])

        // Boot configs first (they have no file); the name alone says whether it is one, so a
        // file request costs a few byte compares here and nothing else.
        if BootConfigName(path: relative) != .notABootConfig {
            let request = BootConfigRequest(client: IPv4Address(connections[i].peer.address), local: localAddress(head))
            switch boot.respond(path: relative, request: request, tables: snapshot, output: rendered) {
            case .config(let n, _, _, _):
                counters.bootConfigsServed &+= 1
                return sendConfig(n, method: method, persistent: persistent, i, ring: ring)
            case .noSuchConfig, .notABootConfig:
                return sendError(.notFound, method: method, persistent: persistent, i, ring: ring)
            }
        }

        if root == nil { openRoot(ring: ring) }
        guard let root else { return sendError(.notFound, method: method, persistent: persistent, i, ring: ring) }
        let fd: Int32
        let status: stat
        switch root.openFile(UnsafeRawBufferPointer(rebasing: path[0...length])) {
        case .success(let opened):
            fd = opened.descriptor
            status = opened.status
        case .failure(let failure):
            let status: HTTPStatus = switch failure {
            case .notFound: .notFound
            case .outsideRoot, .notRegularFile, .permissionDenied: .forbidden
            case .failed: .internalServerError
            }
            return sendError(status, method: method, persistent: persistent, i, ring: ring)
        }
        let file = HTTPFileMetadata(size: UInt64(status.st_size), inode: UInt64(status.st_ino),
                                    modifiedSeconds: Int64(status.st_mtim.tv_sec), modifiedNanoseconds: Int64(status.st_mtim.tv_nsec))
        let now = Int64(time(nil))
        let verdict = HTTPFilePolicy.evaluate(head, file: file, now: now)
        guard let slot = ring.allocateSlot() else {
            Glibc.close(fd)
            ring.close(connections[i].id!)
            return
        }
        var writer = WireWriter(slot.buffer)
        let body: HTTPFileBody
        do {
            body = try HTTPFilePolicy.writeHead(verdict, method: method, file: file, contentType: HTTPContentType.forPath(relative),
                                                now: now, persistent: persistent, into: &writer)
        } catch {
            ring.release(slot)
            Glibc.close(fd)
            return sendError(.internalServerError, method: method, persistent: false, i, ring: ring)
        }
        if body.length > 0, body.length <= UInt64(writer.remaining),
           Self.readCached(fd, offset: body.offset, into: UnsafeMutableRawBufferPointer(rebasing: slot.buffer[writer.count..<writer.count + Int(body.length)])) {
            // A small body already in the page cache goes in the head's slot: one send, one
            // segment, where a file send would take a second send and two splices.
            Glibc.close(fd)
            begin(verdict.status, bodyBytes: body.length, persistent: persistent, i)
            counters.headBytesSent &+= UInt64(writer.count)
            ring.send(slot, length: writer.count + Int(body.length), on: connections[i].id!)
            return
        }
        if body.length > 0 {
            // Opened O_NONBLOCK so that a FIFO cannot block the ring in open(); the body is read
            // by splice/sendfile, which must wait for the page cache, not fail with EAGAIN.
            _ = fcntl(fd, F_SETFL, O_RDONLY)
            connections[i].file = fd
            connections[i].body = body
            connections[i].fileStarted = false
        } else {
            Glibc.close(fd)
        }
        begin(verdict.status, bodyBytes: body.length, persistent: persistent, i)
        counters.headBytesSent &+= UInt64(writer.count)
        ring.send(slot, length: writer.count, on: connections[i].id!)
    }

    /// Reads exactly `buffer.count` bytes at `offset` if they are all in the page cache
    /// (`preadv2` with RWF_NOWAIT: never waits for the disk, so the ring never does either).
    /// False otherwise, and the caller sends the body with splice instead.
    static func readCached(_ fd: Int32, offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        var vector = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
        return rp_preadv2(fd, &vector, 1, Int64(offset), RP_RWF_NOWAIT) == buffer.count
    }

    /// The address a boot config should name for us: the Host the client used if it is an
    /// address (what it reached us by), else `--address`.
    private func localAddress(_ head: HTTPRequestHead) -> IPv4Address {
        if let host = (try? head.host()) ?? nil {
            var end = host.count
            if let colon = host.firstIndex(of: UInt8(ascii: ":")) { end = colon }
            if let address = IPv4Address(String(decoding: host[0..<end], as: UTF8.self)) { return address }
        }
        return settings.address ?? IPv4Address(0)
    }

    // MARK: Responses

    private func begin(_ status: HTTPStatus, bodyBytes: UInt64, persistent: Bool, _ i: Int) {
        counters.count(status)
        connections[i].responding = true
        connections[i].closeAfter = !persistent
        connections[i].logStatus = status.code
        connections[i].logBytes = bodyBytes
    }

    private func sendError(_ status: HTTPStatus, method: HTTPMethod, persistent: Bool, _ i: Int, ring: RingContext) {
        guard let slot = ring.allocateSlot() else { return ring.close(connections[i].id!) }
        var writer = WireWriter(slot.buffer)
        let headLength: Int
        do {
            try HTTPRequestPolicy.writeError(status, method: method, persistent: persistent, now: Int64(time(nil)), into: &writer)
            headLength = writer.count
        } catch {
            ring.release(slot)
            return ring.close(connections[i].id!)
        }
        begin(status, bodyBytes: 0, persistent: persistent, i)
        counters.headBytesSent &+= UInt64(headLength)
        ring.send(slot, length: headLength, on: connections[i].id!)
    }

    /// A rendered config: the head and as much of the body as fits in one slot; the rest (a
    /// config over a slot is rare) from the connection's own buffer.
    private func sendConfig(_ length: Int, method: HTTPMethod, persistent: Bool, _ i: Int, ring: RingContext) {
        guard let slot = ring.allocateSlot() else { return ring.close(connections[i].id!) }
        var writer = WireWriter(slot.buffer)
        do {
            try HTTPRequestPolicy.writeGeneratedHead(length: length, persistent: persistent, now: Int64(time(nil)), into: &writer)
        } catch {
            ring.release(slot)
            return sendError(.internalServerError, method: method, persistent: false, i, ring: ring)
        }
        counters.headBytesSent &+= UInt64(writer.count)
        let bodyLength = method == .head ? 0 : length
        let inSlot = min(bodyLength, writer.remaining)
        slot.buffer.baseAddress!.advanced(by: writer.count).copyMemory(from: rendered.baseAddress!, byteCount: inSlot)
        if inSlot < bodyLength {
            connections[i].generated = Array(UnsafeRawBufferPointer(rebasing: rendered[inSlot..<bodyLength]))
            connections[i].generatedSent = 0
        }
        begin(.ok, bodyBytes: UInt64(bodyLength), persistent: persistent, i)
        ring.send(slot, length: writer.count + inSlot, on: connections[i].id!)
    }

    private func sendGenerated(_ i: Int, ring: RingContext) {
        guard let slot = ring.allocateSlot() else { return ring.close(connections[i].id!) }
        let start = connections[i].generatedSent
        let n = min(slot.buffer.count, connections[i].generated.count - start)
        connections[i].generated.withUnsafeBytes { slot.buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<start + n])) }
        connections[i].generatedSent += n
        ring.send(slot, length: n, on: connections[i].id!)
    }

    /// The whole response is out: count it, log it, then close, linger, or read on.
    private func finishResponse(_ i: Int, ring: RingContext) {
        guard let id = connections[i].id else { return }
        counters.bodyBytesSent &+= connections[i].logBytes
        if settings.accessLog { logAccess(i, note: "") }
        recordBoot(i, completed: true)
        if connections[i].file >= 0 {
            Glibc.close(connections[i].file)
            connections[i].file = -1
        }
        connections[i].responding = false
        connections[i].fileStarted = false
        connections[i].generated = []
        connections[i].generatedSent = 0
        guard connections[i].closeAfter else {
            serveBuffered(i, ring: ring)
            return
        }
        if Self.lingeringStatuses.contains(connections[i].logStatus) || !connections[i].received.isEmpty {
            linger(i, ring: ring)
        } else {
            ring.close(id)
        }
    }

    /// After an error, the client may still be sending (the rest of an oversized head, a
    /// request body). Closing a socket with unread bytes makes the kernel send RST, which can
    /// destroy the error response before the client reads it; so read and drop for a moment,
    /// and close when the client does or the moment passes (nginx's "lingering close").
    private func linger(_ i: Int, ring: RingContext) {
        connections[i].lingering = true
        connections[i].received = []
        connections[i].deadline = ring.now + settings.lingerMilliseconds
        armTimer(i, ring: ring)
    }

    private func armTimer(_ i: Int, ring: RingContext) {
        guard !connections[i].timerArmed, let id = connections[i].id, let registry else { return }
        let token = UInt64(id.generation & 0xFF_FFFF) << 24 | UInt64(id.index)
        let delay = connections[i].deadline > ring.now ? connections[i].deadline - ring.now : 0
        _ = ring.schedule(afterMilliseconds: delay, token: registry.timerToken(token, for: self))
        connections[i].timerArmed = true
    }

    /// A response that answered a request (not a head too bad to name a target) is a step in
    /// its client's boot history.
    /// An aborted response records no bytes: how much of it left is not known here.
    private func recordBoot(_ i: Int, completed: Bool) {
        guard let boots, connections[i].bootName.count > 0 else { return }
        boots.record(.http, address: connections[i].peer.address, name: connections[i].bootName,
                     status: connections[i].logStatus, outcome: completed ? "ok" : "aborted",
                     bytes: completed ? connections[i].logBytes : 0)
        connections[i].bootName = BootRecorder.Name()
    }

    private func logAccess(_ i: Int, note: String) {
        let peer = connections[i].peer
        let host = hostnames[peer.address] ?? "-"
        log.info("http: \(peer) \(host) \"\(connections[i].logRequest)\" \(connections[i].logStatus) \(connections[i].logBytes)\(note)")
    }
}
