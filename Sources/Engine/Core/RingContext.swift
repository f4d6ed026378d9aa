import Glibc

/// Sizes of one ring's fixed resources. Buffers and send slots are allocated at start-up; the
/// socket and connection tables grow to the most ever open at once, up to these limits.
public struct RingConfiguration: Sendable {
    /// Send slots and their size: a slot holds one datagram or one stream write.
    public var sendSlots: Int = 2048
    public var sendSlotSize: Int = 2048
    /// Provided receive buffers for datagrams (each holds one datagram plus its address and
    /// control data) and for streams.
    public var datagramBuffers: Int = 4096
    public var datagramBufferSize: Int = 2048
    public var streamBuffers: Int = 512
    public var streamBufferSize: Int = 16_384
    /// Table capacities: UDP sockets and listeners; TCP connections.
    public var maxSockets: Int = 16_384
    public var maxConnections: Int = 16_384
    /// io_uring queue depths.
    public var submissionEntries: UInt32 = 4096
    public var completionEntries: UInt32 = 16_384
    public var timerResolutionMilliseconds: UInt64 = 10
    /// How `sendFile` moves file bytes to a TCP socket on io_uring (epoll always uses
    /// `sendfile`). Splice is the default because it was faster: 64 MiB files to a loopback
    /// client, 5 rounds back to back (docs/benchmarks.md, "Engine (issue 3)", 2026-11-26),
    /// splice 1.01 GiB/s at 0.22 s of server CPU per GiB, send_zc 0.63 GiB/s at 0.28 s/GiB
    /// (splice ÷ send_zc 1.65× within a round; the machine was loaded). On loopback the kernel
    /// copies send_zc's pages anyway when it hands them to the local receiver, so this is
    /// send_zc's worst case: measure again on a real NIC before changing the default.
    public var fileSendMethod: FileSendMethod = .splice
    /// Batched waiting (io_uring only, Linux 6.12+): the longest a ready datagram may wait for
    /// company before the ring handles it, a ceiling on each socket's own budget
    /// (`UDPSocketOptions.waitBudgetMicroseconds`; `BatchingWindow` says when it applies). Never
    /// while the ring has a TCP connection or a socket opened after start (a TFTP transfer's):
    /// lock-step transfers and streams would pay it on every round trip. 0, the default, turns
    /// it off. A held stream of independent requests costs one wake-up per batch instead of one
    /// per packet: on this VM, DHCP at 3,000 DORA/s went from 65.0 to 39.5 µs of CPU per DORA
    /// (Kea 181.7 in the same run), and DNS at 30k qps from 13.5 to 8.8 µs per query (Knot
    /// 14.2) — docs/benchmarks.md; docs/engine.md, "Batched waiting".
    /// Windows of 50–100 µs caught too little company to pay.
    public var coalesceMicroseconds: UInt32 = 0

    public init() {}
}

/// The two ways io_uring can send a file without copying it through user space.
public enum FileSendMethod: String, Sendable, CaseIterable {
    /// file → pipe → socket with `splice` (1 MiB pipe), on the ring thread while the range is
    /// in the page cache, else file → pipe on an io_uring worker.
    case splice
    /// `send_zc` from a read-only mapping of the file; the mapping is released once every
    /// send's notification (`IORING_CQE_F_NOTIF`) has arrived.
    case zeroCopySend
}

/// One ring thread's world as a service sees it: open sockets, send replies, schedule timers,
/// close connections. Only ever used on its own thread.
public final class RingContext {
    /// This ring's number among the engine's rings (0-based).
    public let index: Int
    public let configuration: RingConfiguration
    public let counters = RingCounters()
    /// CLOCK_MONOTONIC milliseconds, refreshed at the start of each batch.
    public internal(set) var now: UInt64
    public internal(set) var isStopping = false

    let slots: SendSlotPool
    let timers: TimerWheel
    unowned(unsafe) var driver: RingDriver!
    var handler: RingHandler!

    // Sockets (UDP and listeners) and connections: index tables with generations.
    struct SocketEntry {
        var fd: Int32 = -1
        var generation: UInt32 = 0
        var isListener = false
        var closing = false
        var idleTimeout: UInt64 = 0
        var totalTimeout: UInt64 = 0
        var waitBudget: UInt32 = 0
    }

    struct ConnectionEntry {
        var fd: Int32 = -1
        var generation: UInt32 = 0
        var listener = SocketID(index: 0, generation: 0)
        var lastActivity: UInt64 = 0
        var sending = false
        var closing = false
        var closeReason: CloseReason = .local
        var idleTimer: TimerID?
        var totalTimer: TimerID?
    }

    var sockets: [SocketEntry]
    var freeSockets: [UInt32]
    /// How long the driver may wait for company (batched waiting).
    var batching: BatchingWindow
    var connections: [ConnectionEntry]
    var freeConnections: [UInt32]

    init(index: Int, configuration: RingConfiguration, startMilliseconds: UInt64? = nil) {
        self.index = index
        self.configuration = configuration
        now = startMilliseconds ?? MonotonicClock.milliseconds()
        slots = SendSlotPool(count: configuration.sendSlots, slotSize: configuration.sendSlotSize)
        timers = TimerWheel(resolutionMilliseconds: configuration.timerResolutionMilliseconds, nowMilliseconds: now)
        // Grown as sockets and connections open (`Array.grow`), to the most ever open at once.
        sockets = []
        freeSockets = (0..<UInt32(configuration.maxSockets)).reversed().map { $0 }
        connections = []
        freeConnections = (0..<UInt32(configuration.maxConnections)).reversed().map { $0 }
        batching = BatchingWindow(cap: configuration.coalesceMicroseconds, now: now)
    }

    /// The name of the backend running this ring: "io_uring", "epoll" or "memory".
    public var backendName: String { driver.name }

    // MARK: UDP

    /// A free socket index (the lowest), its entry grown into the table.
    private func takeSocketIndex(_ call: String) throws(SystemError) -> UInt32 {
        guard let index = freeSockets.popLast() else { throw SystemError(errno: EMFILE, call: "\(call): socket table full") }
        sockets.grow(toInclude: Int(index), with: SocketEntry())
        return index
    }

    /// Opens a UDP socket on this ring and starts receiving on it. Port 0 binds an ephemeral
    /// port (see `localEndpoint(of:)`).
    public func openUDP(_ options: UDPSocketOptions) throws(SystemError) -> SocketID {
        let index = try takeSocketIndex("openUDP")
        let fd: Int32
        do throws(SystemError) {
            fd = try driver.makeUDPSocket(options)
        } catch {
            freeSockets.append(index)
            throw error
        }
        sockets[Int(index)].fd = fd
        sockets[Int(index)].isListener = false
        sockets[Int(index)].closing = false
        sockets[Int(index)].waitBudget = options.waitBudgetMicroseconds
        let id = SocketID(index: index, generation: sockets[Int(index)].generation)
        driver.armDatagramSocket(id, fd: fd)
        return id
    }

    /// The address and port a socket is bound to.
    public func localEndpoint(of socket: SocketID) throws(SystemError) -> IPv4Endpoint {
        guard let fd = descriptor(of: socket) else { throw SystemError(errno: EBADF, call: "localEndpoint: closed socket") }
        return try driver.localEndpoint(fd)
    }

    /// Closes a socket (UDP or listener). Events already queued for it are dropped.
    public func close(_ socket: SocketID) {
        guard let fd = descriptor(of: socket), !sockets[Int(socket.index)].closing else { return }
        sockets[Int(socket.index)].closing = true
        driver.disarmSocket(socket, fd: fd)
    }

    /// A send buffer, or nil when all are in flight (counted; drop the reply).
    @inline(__always)
    public func allocateSlot() -> SendSlot? {
        guard let slot = slots.allocate() else {
            counters.sendSlotsExhausted &+= 1
            return nil
        }
        return slot
    }

    /// Gives back a slot that will not be sent.
    public func release(_ slot: SendSlot) { slots.release(slot.index) }

    /// Sends `length` bytes of `slot`, then `extra` if given (file data from a mapping: no copy
    /// through the slot), to `destination` from `socket`. `source` and `interfaceIndex` pick the
    /// local address and interface (IP_PKTINFO) when non-zero. The slot is the engine's again.
    @inline(__always)
    public func send(_ slot: SendSlot, length: Int, on socket: SocketID, to destination: IPv4Endpoint,
                     from source: UInt32 = 0, interfaceIndex: Int32 = 0, appending extra: UnsafeRawBufferPointer? = nil) {
        guard let fd = descriptor(of: socket), !sockets[Int(socket.index)].closing else {
            slots.release(slot.index)
            return
        }
        precondition(length <= slot.buffer.count)
        driver.sendDatagram(fd: fd, slot: slot.index, length: length, extra: extra, destination: destination,
                            source: source, interfaceIndex: interfaceIndex)
    }

    /// How many datagrams `sendSegmented` may carry in one call with this header and chunk size.
    public func segmentLimit(headerLength: Int, chunk: Int) -> Int {
        driver.segmentLimit(headerLength: headerLength, chunk: chunk)
    }

    /// Sends `count` datagrams to one destination in one go (UDP GSO on io_uring: one system
    /// call and one trip through the stack for a whole TFTP window). Datagram i is
    /// `headerLength` bytes of the slot at i × headerLength, then the next `chunk` bytes of
    /// `body`; every datagram but the last carries a whole chunk (the last may carry none). `count` must not exceed
    /// `segmentLimit`. The slot is the engine's again.
    public func sendSegmented(_ slot: SendSlot, headerLength: Int, count: Int, body: UnsafeRawBufferPointer, chunk: Int,
                              on socket: SocketID, to destination: IPv4Endpoint) {
        guard let fd = descriptor(of: socket), !sockets[Int(socket.index)].closing else {
            slots.release(slot.index)
            return
        }
        precondition(count >= 1 && count * headerLength <= slot.buffer.count && chunk > 0
                     && body.count >= (count - 1) * chunk && body.count <= count * chunk)
        if count == 1 {
            driver.sendDatagram(fd: fd, slot: slot.index, length: headerLength, extra: body.isEmpty ? nil : body,
                                destination: destination, source: 0, interfaceIndex: 0)
            return
        }
        precondition(count <= driver.segmentLimit(headerLength: headerLength, chunk: chunk))
        driver.sendSegmented(fd: fd, slot: slot.index, headerLength: headerLength, count: count, body: body, chunk: chunk,
                             destination: destination)
    }

    /// Sends a whole Ethernet frame (built by the caller, e.g. `Wire.UDPFrame`) on an
    /// interface, for RFC 2131 §4.1 unicast to a client that has no address yet. Opens the
    /// ring's AF_PACKET socket on first use (needs CAP_NET_RAW).
    public func sendFrame(_ slot: SendSlot, length: Int, interfaceIndex: Int32, destinationMAC: UInt64) throws(SystemError) {
        try driver.sendFrame(slot: slot.index, length: length, interfaceIndex: interfaceIndex, destinationMAC: destinationMAC)
    }

    // MARK: TCP

    /// Opens a TCP listener on this ring; accepted connections are reported to the handler.
    public func listenTCP(_ options: TCPListenerOptions) throws(SystemError) -> SocketID {
        let index = try takeSocketIndex("listenTCP")
        let fd: Int32
        do throws(SystemError) {
            fd = try driver.makeListener(options)
        } catch {
            freeSockets.append(index)
            throw error
        }
        sockets[Int(index)].fd = fd
        sockets[Int(index)].isListener = true
        sockets[Int(index)].closing = false
        sockets[Int(index)].idleTimeout = options.idleTimeoutMilliseconds
        sockets[Int(index)].totalTimeout = options.totalTimeoutMilliseconds
        let id = SocketID(index: index, generation: sockets[Int(index)].generation)
        driver.armListener(id, fd: fd)
        return id
    }

    /// Writes `length` bytes of `slot` on the connection. One send at a time per connection:
    /// wait for `sendCompleted` before the next. The slot is the engine's again.
    public func send(_ slot: SendSlot, length: Int, on connection: ConnectionID) {
        guard let entry = liveConnection(connection), !entry.sending else {
            assert(liveConnection(connection)?.sending != true, "one send at a time per connection")
            slots.release(slot.index)
            return
        }
        connections[Int(connection.index)].sending = true
        driver.streamSend(connection, fd: entry.fd, slot: slot.index, length: length)
    }

    /// Writes `length` bytes of the open file `file` from `offset` on the connection, without a
    /// copy through user space. The caller keeps `file` open until `sendCompleted`.
    public func sendFile(_ file: Int32, offset: Int64, length: Int64, on connection: ConnectionID) {
        guard let entry = liveConnection(connection), !entry.sending else { return }
        connections[Int(connection.index)].sending = true
        driver.streamSendFile(connection, fd: entry.fd, file: file, offset: offset, length: length)
    }

    /// Closes a connection; the handler hears `closed(_, reason: .local)` once it is gone.
    public func close(_ connection: ConnectionID) {
        beginClosing(connection, reason: .local)
    }

    /// Whether a send is in progress on the connection.
    public func isSending(_ connection: ConnectionID) -> Bool { liveConnection(connection)?.sending ?? false }

    // MARK: Timers

    /// Calls `timerFired(token:)` after `milliseconds` (rounded up to the wheel's resolution).
    /// Tokens are the service's own; the top bit is reserved for the engine.
    public func schedule(afterMilliseconds milliseconds: UInt64, token: UInt64) -> TimerID {
        precondition(token & Self.engineTimerBit == 0, "timer tokens must leave the top bit clear")
        return timers.schedule(atMilliseconds: now + milliseconds, token: token)
    }

    public func cancel(_ timer: TimerID) { timers.cancel(timer) }

    // MARK: For drivers

    static let engineTimerBit: UInt64 = 1 << 63
    static let totalTimerBit: UInt64 = 1 << 62

    @inline(__always)
    func descriptor(of socket: SocketID) -> Int32? {
        let i = Int(socket.index)
        guard i < sockets.count, sockets[i].generation == socket.generation, sockets[i].fd >= 0 else { return nil }
        return sockets[i].fd
    }

    @inline(__always)
    func liveConnection(_ id: ConnectionID) -> ConnectionEntry? {
        let i = Int(id.index)
        guard i < connections.count, connections[i].generation == id.generation, connections[i].fd >= 0,
              !connections[i].closing else { return nil }
        return connections[i]
    }

    func isCurrent(_ id: SocketID) -> Bool { descriptor(of: id) != nil && !sockets[Int(id.index)].closing }

    func isCurrent(_ id: ConnectionID) -> Bool {
        let i = Int(id.index)
        return i < connections.count && connections[i].generation == id.generation && connections[i].fd >= 0
    }

    func listenerTimeouts(_ id: SocketID) -> (idle: UInt64, total: UInt64) {
        (sockets[Int(id.index)].idleTimeout, sockets[Int(id.index)].totalTimeout)
    }

    /// A driver accepted `fd` on `listener`: record it, start its timers, tell the handler,
    /// then arm receiving. Returns nil (and closes `fd`) when the table is full.
    @discardableResult
    func connectionAccepted(fd: Int32, listener: SocketID, peer: IPv4Endpoint) -> ConnectionID? {
        guard isCurrent(listener), let index = freeConnections.popLast() else {
            counters.connectionsRefused &+= 1
            driver.closeDescriptor(fd)
            return nil
        }
        let i = Int(index)
        connections.grow(toInclude: i, with: ConnectionEntry())
        connections[i].fd = fd
        connections[i].listener = listener
        connections[i].lastActivity = now
        connections[i].sending = false
        connections[i].closing = false
        let id = ConnectionID(index: index, generation: connections[i].generation)
        let (idle, total) = listenerTimeouts(listener)
        let token = Self.engineTimerBit | UInt64(connections[i].generation & 0xFF_FFFF) << 32 | UInt64(index)
        connections[i].idleTimer = idle > 0 ? timers.schedule(atMilliseconds: now + idle, token: token) : nil
        connections[i].totalTimer = total > 0 ? timers.schedule(atMilliseconds: now + total, token: token | Self.totalTimerBit) : nil
        counters.connectionsAccepted &+= 1
        driver.armConnection(id, fd: fd)
        handler.accepted(id, peer: peer, listener: listener, ring: self)
        return id
    }

    func streamReceived(_ id: ConnectionID, bytes: UnsafeRawBufferPointer) {
        guard liveConnection(id) != nil else { return }
        connections[Int(id.index)].lastActivity = now
        counters.streamBytesReceived &+= UInt64(bytes.count)
        handler.received(bytes, on: id, ring: self)
    }

    func streamSendFinished(_ id: ConnectionID, bytes: Int, file: Bool) {
        guard isCurrent(id) else { return }
        let i = Int(id.index)
        connections[i].sending = false
        connections[i].lastActivity = now
        if file { counters.fileBytesSent &+= UInt64(bytes) } else { counters.streamBytesSent &+= UInt64(bytes) }
        if !connections[i].closing { handler.sendCompleted(on: id, ring: self) }
    }

    /// Progress on a long send (file chunks): keeps the idle timer from firing mid-transfer.
    func streamActivity(_ id: ConnectionID) {
        if isCurrent(id) { connections[Int(id.index)].lastActivity = now }
    }

    /// The peer closed, a receive or send failed, a timeout fired, or the service asked.
    func beginClosing(_ id: ConnectionID, reason: CloseReason) {
        guard isCurrent(id), !connections[Int(id.index)].closing else { return }
        let i = Int(id.index)
        connections[i].closing = true
        connections[i].closeReason = reason
        if let t = connections[i].idleTimer { timers.cancel(t) }
        if let t = connections[i].totalTimer { timers.cancel(t) }
        connections[i].idleTimer = nil
        connections[i].totalTimer = nil
        switch reason {
        case .idleTimeout: counters.idleTimeouts &+= 1
        case .totalTimeout: counters.totalTimeouts &+= 1
        default: break
        }
        driver.disarmConnection(id, fd: connections[i].fd)
    }

    /// The driver has nothing left in flight on the connection: close it and tell the handler.
    func connectionReleased(_ id: ConnectionID) {
        guard isCurrent(id) else { return }
        let i = Int(id.index)
        driver.closeDescriptor(connections[i].fd)
        let reason = connections[i].closeReason
        connections[i].fd = -1
        connections[i].generation = (connections[i].generation &+ 1) & 0xFF_FFFF
        freeConnections.append(id.index)
        counters.connectionsClosed &+= 1
        handler.closed(id, reason: reason, ring: self)
    }

    func socketReleased(_ id: SocketID) {
        let i = Int(id.index)
        guard i < sockets.count, sockets[i].generation == id.generation, sockets[i].fd >= 0 else { return }
        driver.closeDescriptor(sockets[i].fd)
        sockets[i].fd = -1
        sockets[i].closing = false
        sockets[i].generation = (sockets[i].generation &+ 1) & 0xFF_FFFF
        freeSockets.append(id.index)
    }

    /// Refreshes `now` and fires due timers: the service's, and connection idle/total limits.
    func advanceClock() {
        now = MonotonicClock.milliseconds()
        fireTimers()
    }

    func fireTimers() {
        timers.advance(toMilliseconds: now) { token in
            counters.timersFired &+= 1
            if token & Self.engineTimerBit == 0 {
                handler.timerFired(token: token, ring: self)
                return
            }
            let index = UInt32(truncatingIfNeeded: token)
            let generation = UInt32(truncatingIfNeeded: token >> 32) & 0xFF_FFFF
            let id = ConnectionID(index: index, generation: generation)
            guard liveConnection(id) != nil else { return }
            let i = Int(index)
            if token & Self.totalTimerBit != 0 {
                connections[i].totalTimer = nil
                beginClosing(id, reason: .totalTimeout)
                return
            }
            // Idle: checked lazily, so activity costs a store, not a timer reschedule.
            let (idle, _) = listenerTimeouts(connections[i].listener)
            if now &- connections[i].lastActivity >= idle {
                connections[i].idleTimer = nil
                beginClosing(id, reason: .idleTimeout)
            } else {
                connections[i].idleTimer = timers.schedule(atMilliseconds: connections[i].lastActivity + idle, token: token)
            }
        }
    }

    /// Sockets open once the services had started: their long-lived ones.
    var baselineSockets = 0

    /// Whether something latency-bound is running: a TCP connection, or a socket opened after
    /// start (a TFTP transfer). Batched waiting is off while it is.
    var isLatencySensitive: Bool {
        freeConnections.count < configuration.maxConnections || configuration.maxSockets - freeSockets.count > baselineSockets
    }

    /// A datagram arrived on `socket`: its budget counts towards the batching window.
    @inline(__always)
    func noteArrival(on socket: SocketID) {
        batching.noteArrival(budget: sockets[Int(socket.index)].waitBudget)
    }

    /// Milliseconds the driver may wait for completions before a timer is due (nil: no limit).
    func waitLimit() -> UInt64? { timers.millisecondsUntilNextTimer(now: now) }

    /// Starts shutdown: every socket and connection is closed; the driver's loop ends when
    /// nothing is in flight.
    func beginShutdown() {
        guard !isStopping else { return }
        isStopping = true
        for i in sockets.indices where sockets[i].fd >= 0 && !sockets[i].closing {
            close(SocketID(index: UInt32(i), generation: sockets[i].generation))
        }
        for i in connections.indices where connections[i].fd >= 0 && !connections[i].closing {
            beginClosing(ConnectionID(index: UInt32(i), generation: connections[i].generation), reason: .shutdown)
        }
    }

    /// Whether anything is still open (the loop runs until not).
    var hasOpenDescriptors: Bool {
        sockets.contains { $0.fd >= 0 } || connections.contains { $0.fd >= 0 }
    }
}
