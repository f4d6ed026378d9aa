import Glibc

/// A ring on the in-memory backend, driven synchronously by a test on its own thread: inject
/// traffic, move the clock, inspect what the service sent. The handler is the same object the
/// kernel backends would run.
public final class InMemoryRing {
    public struct SentDatagram: Equatable {
        /// The socket it left from, and that socket's bound address.
        public let socket: SocketID?
        public let from: IPv4Endpoint
        public let payload: [UInt8]
        public let destination: IPv4Endpoint
        /// The IP_PKTINFO source address and interface asked for (0: the kernel's choice).
        public let source: UInt32
        public let interfaceIndex: Int32
    }

    public struct SentFrame: Equatable {
        public let frame: [UInt8]
        public let interfaceIndex: Int32
        public let destinationMAC: UInt64
    }

    public let context: RingContext
    public let handler: RingHandler
    let driver: InMemoryDriver

    /// Creates the ring and runs the handler's `started`. `startMilliseconds` is the clock's
    /// first reading.
    public init(handler: RingHandler, configuration: RingConfiguration = RingConfiguration(), startMilliseconds: UInt64 = 1_000_000) throws {
        var configuration = configuration
        // Tests need few resources; keep the defaults' shape but not their size.
        configuration.maxSockets = min(configuration.maxSockets, 4096)
        configuration.maxConnections = min(configuration.maxConnections, 4096)
        context = RingContext(index: 0, configuration: configuration, startMilliseconds: startMilliseconds)
        driver = InMemoryDriver(context: context)
        context.driver = driver
        context.handler = handler
        self.handler = handler
        try handler.started(ring: context)
    }

    // MARK: Datagrams

    /// Every datagram sent since the last `takeSentDatagrams()`.
    public var sentDatagrams: [SentDatagram] { driver.sentDatagrams }

    public func takeSentDatagrams() -> [SentDatagram] {
        defer { driver.sentDatagrams.removeAll() }
        return driver.sentDatagrams
    }

    public var sentFrames: [SentFrame] { driver.sentFrames }

    /// The open UDP socket bound to `port`, if any.
    public func socket(boundTo port: UInt16) -> SocketID? {
        driver.sockets.values.first { $0.options?.bind.port == port && $0.id != nil }?.id
    }

    /// Delivers a datagram to the UDP socket bound to `port` (or to `socket`), as if the kernel
    /// had received it, then ends the batch. Returns false if no such socket is open.
    @discardableResult
    public func deliver(_ payload: [UInt8], toPort port: UInt16, from source: IPv4Endpoint,
                        destinationAddress: UInt32 = 0, localAddress: UInt32 = 0, interfaceIndex: Int32 = 1,
                        socket: SocketID? = nil) -> Bool {
        guard let target = socket ?? self.socket(boundTo: port), context.isCurrent(target) else { return false }
        let bound = (try? driver.localEndpoint(context.descriptor(of: target) ?? -1))?.address ?? 0
        payload.withUnsafeBytes { bytes in
            context.counters.datagramsReceived &+= 1
            context.noteArrival(on: target)
            context.handler.received(
                ReceivedDatagram(socket: target, payload: bytes, source: source,
                                 destinationAddress: destinationAddress == 0 ? bound : destinationAddress,
                                 localAddress: localAddress == 0 ? bound : localAddress,
                                 interfaceIndex: interfaceIndex, truncated: false),
                ring: context)
        }
        endBatch()
        return true
    }

    // MARK: Streams

    /// Opens a connection from `peer` to the listener bound to `port`, as if accepted.
    public func connect(toPort port: UInt16, from peer: IPv4Endpoint) -> ConnectionID? {
        guard let listener = driver.sockets.first(where: { $0.value.listener?.bind.port == port && $0.value.id != nil }) else { return nil }
        let fd = driver.makeDescriptorForConnection()
        let id = context.connectionAccepted(fd: fd, listener: listener.value.id!, peer: peer)
        endBatch()
        return id
    }

    /// Bytes from the peer.
    public func deliver(_ bytes: [UInt8], on connection: ConnectionID) {
        bytes.withUnsafeBytes { context.streamReceived(connection, bytes: $0) }
        endBatch()
    }

    /// The peer closes its side.
    public func peerClose(_ connection: ConnectionID) {
        context.beginClosing(connection, reason: .peerClosed)
        endBatch()
    }

    /// Completes every stream send in progress (bytes from slots, file ranges read with
    /// pread), appending to each connection's output, and tells the handler. Repeats while the
    /// handler keeps sending, up to `rounds`.
    public func completeSends(rounds: Int = 10_000) {
        var round = 0
        while !driver.pendingStreamSends.isEmpty, round < rounds {
            round += 1
            let pending = driver.pendingStreamSends
            driver.pendingStreamSends.removeAll()
            for send in pending {
                var written = 0
                if let slot = send.slot {
                    driver.streamOutput[send.connection, default: []].append(
                        contentsOf: UnsafeRawBufferPointer(rebasing: context.slots.buffer(slot)[0..<send.length]))
                    context.slots.release(slot)
                    written = send.length
                } else if let file = send.file {
                    var bytes = [UInt8](repeating: 0, count: Int(file.length))
                    let n = bytes.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, Int(file.length), off_t(file.offset)) }
                    driver.streamOutput[send.connection, default: []].append(contentsOf: bytes[0..<max(n, 0)])
                    written = max(n, 0)
                }
                context.streamSendFinished(send.connection, bytes: written, file: send.file != nil)
            }
            endBatch()
        }
    }

    /// Everything written on the connection so far.
    public func output(of connection: ConnectionID) -> [UInt8] { driver.streamOutput[connection] ?? [] }

    /// Whether the connection is still open (not closed by either side or a timeout).
    public func isOpen(_ connection: ConnectionID) -> Bool { context.liveConnection(connection) != nil }

    // MARK: Time and shutdown

    /// Moves the clock forward and fires what came due.
    public func advance(milliseconds: UInt64) {
        context.now += milliseconds
        context.fireTimers()
        endBatch()
    }

    /// Closes everything, as a shutdown does.
    public func stop() {
        context.beginShutdown()
        endBatch()
    }

    /// Descriptors the service has open (sockets, listeners, connections).
    public var openDescriptors: Int {
        context.sockets.filter { $0.fd >= 0 }.count + context.connections.filter { $0.fd >= 0 }.count
    }

    private func endBatch() {
        context.counters.batches &+= 1
        context.handler.batchEnded(ring: context)
    }
}

extension InMemoryDriver {
    func makeDescriptorForConnection() -> Int32 { descriptor() }
}
