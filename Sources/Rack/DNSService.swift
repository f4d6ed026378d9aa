import Engine
import Glibc
import Responders
import Tables
import Wire

/// DNS on UDP and TCP port 53, on every ring (`SO_REUSEPORT`): answers from the zones of the
/// snapshot in service, forwarding for allowed clients, zone transfers over TCP.
///
/// The UDP path is the hot one: the query is read in the ring's receive buffer and the answer
/// written straight into a send slot — a hash lookup and two copies, no allocation.
final class DNSService: RackService {
    let tables: TableStore
    let port: UInt16
    let log: RackLog
    let responder = DNSResponder()
    let forwarder = DNSForwarder()
    private var snapshot: TableSnapshot
    private var zones: ZoneTable
    private var upstreams: [IPv4Address]
    private var generation: UInt64
    private var udp: SocketID?
    private var listener: SocketID?
    private var upstreamSocket: SocketID?
    /// TCP connections: bytes received but not yet a whole message, and bytes not yet sent.
    private var connections: [ConnectionID: TCPState] = [:]
    /// Scratch for TCP answers and forwarded replies, which can exceed a send slot.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)
    private var registry: ServiceRegistry?
    private var sweepArmed = false
    private static let sweepToken: UInt64 = 1

    struct TCPState {
        let peer: UInt32
        var input: [UInt8] = []
        var output: [UInt8] = []
        var sending = false
    }

    /// A TCP client may pipeline this much before its answers are read (RFC 7766 §6.2.1.1).
    static let maxBufferedBytes = 256 * 1024
    static let tcpIdleMilliseconds: UInt64 = 10_000

    init(tables: TableStore, port: UInt16, log: RackLog) {
        self.tables = tables
        self.port = port
        self.log = log
        snapshot = tables.snapshot
        zones = snapshot.zoneTable
        upstreams = Array(snapshot.upstreamDNS)
        generation = snapshot.generation
        responder.recursionAvailable = !upstreams.isEmpty
    }

    deinit { scratch.deallocate() }

    var counters: DNSCounters { responder.counters }
    var forwarderCounters: DNSCounters { forwarder.counters }

    /// How long a query may wait for company under load (`BatchingWindow`: only when the rate
    /// promises some). Resolvers time out after a second or more; half a millisecond there
    /// saves a wake-up per query at tens of thousands of queries per second.
    static let waitBudgetMicroseconds: UInt32 = 500

    func start(ring: RingContext, services: ServiceRegistry) throws {
        registry = services
        let udp = try ring.openUDP(UDPSocketOptions(bind: .any(port: port), reusePort: true, packetInfo: true,
                                                    receiveBufferBytes: 4 << 20, waitBudgetMicroseconds: Self.waitBudgetMicroseconds))
        services.register(udp, for: self)
        self.udp = udp
        let listener = try ring.listenTCP(TCPListenerOptions(bind: .any(port: port), reusePort: true,
                                                             idleTimeoutMilliseconds: Self.tcpIdleMilliseconds))
        services.register(listener, for: self)
        self.listener = listener
        let upstream = try ring.openUDP(UDPSocketOptions(bind: .any(port: 0), packetInfo: false,
                                                         waitBudgetMicroseconds: Self.waitBudgetMicroseconds))
        services.register(upstream, for: self)
        upstreamSocket = upstream
    }

    // MARK: UDP

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        if datagram.socket == upstreamSocket { return upstreamAnswered(datagram, ring: ring) }
        guard !datagram.truncated, let slot = ring.allocateSlot() else { return }
        let verdict = responder.respond(datagram.payload, source: datagram.source.address, transport: .udp, zones: zones,
                                        now: ring.now, into: slot.buffer)
        switch verdict {
        case .reply(let length):
            ring.send(slot, length: length, on: datagram.socket, to: datagram.source, from: datagram.localAddress)
        case .forward(let info):
            let client = DNSClient(address: datagram.source.address, port: datagram.source.port,
                                   localAddress: datagram.localAddress, interfaceIndex: datagram.interfaceIndex)
            forward(datagram.payload, info: info, client: client, slot: slot, ring: ring)
        case .drop, .transfer:
            ring.release(slot)
        }
    }

    private func forward(_ query: UnsafeRawBufferPointer, info: DNSQueryInfo, client: DNSClient, slot: SendSlot, ring: RingContext) {
        switch forwarder.forward(query, info: info, client: client, upstreams: upstreams, now: ring.now, into: slot.buffer) {
        case .reply(let length):
            reply(to: client, slot: slot, length: length, ring: ring)
        case .send(let length, let upstream):
            guard let socket = upstreamSocket else { return ring.release(slot) }
            ring.send(slot, length: length, on: socket, to: IPv4Endpoint(address: upstream.value, port: 53))
            armSweep(ring)
        }
    }

    private func upstreamAnswered(_ datagram: ReceivedDatagram, ring: RingContext) {
        guard let slot = ring.allocateSlot() else { return }
        guard let (client, length) = forwarder.received(datagram.payload, fromAddress: datagram.source.address,
                                                        fromPort: datagram.source.port, upstreams: upstreams,
                                                        now: ring.now, into: slot.buffer)
        else { return ring.release(slot) }
        reply(to: client, slot: slot, length: length, ring: ring)
    }

    /// Sends a forwarded answer back the way its query came.
    private func reply(to client: DNSClient, slot: SendSlot, length: Int, ring: RingContext) {
        if let handle = client.connection {
            guard let connection = handles[handle] else { return ring.release(slot) }
            queue(UnsafeRawBufferPointer(rebasing: slot.buffer[0..<length]), on: connection, ring: ring)
            ring.release(slot)
            flush(connection, ring: ring)
        } else if let udp {
            ring.send(slot, length: length, on: udp, to: IPv4Endpoint(address: client.address, port: client.port),
                      from: client.localAddress)
        } else {
            ring.release(slot)
        }
    }

    private func armSweep(_ ring: RingContext) {
        guard !sweepArmed, let registry else { return }
        sweepArmed = true
        _ = ring.schedule(afterMilliseconds: 500, token: registry.timerToken(Self.sweepToken, for: self))
    }

    func timerFired(token: UInt64, ring: RingContext) {
        sweepArmed = false
        forwarder.expire(now: ring.now, upstreams: upstreams, out: scratch, retry: { length, upstream in
            guard let socket = upstreamSocket, let slot = ring.allocateSlot(), length <= slot.buffer.count else { return }
            slot.buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[0..<length]))
            ring.send(slot, length: length, on: socket, to: IPv4Endpoint(address: upstream.value, port: 53))
        }, fail: { client, length in
            guard let slot = ring.allocateSlot(), length <= slot.buffer.count else { return }
            slot.buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[0..<length]))
            reply(to: client, slot: slot, length: length, ring: ring)
        })
        if forwarder.pendingCount > 0 { armSweep(ring) }
    }

    // MARK: TCP (RFC 7766): two-byte length, pipelined queries, answers in order

    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, ring: RingContext) {
        connections[connection] = TCPState(peer: peer.address)
        handles[Self.handle(connection)] = connection
    }
    /// Connections by the handle a forwarded query carries (a connection may close meanwhile).
    private var handles: [UInt64: ConnectionID] = [:]

    static func handle(_ connection: ConnectionID) -> UInt64 { UInt64(connection.generation) << 32 | UInt64(connection.index) }

    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {
        guard var state = connections[connection] else { return }
        let source = state.peer
        state.input.append(contentsOf: bytes)
        connections[connection] = state
        var consumed = 0
        while true {
            let available = state.input.count - consumed
            guard available >= 2 else { break }
            let length = Int(state.input[consumed]) << 8 | Int(state.input[consumed + 1])
            guard available >= 2 + length else { break }
            let start = consumed + 2
            consumed += 2 + length
            state.input.withUnsafeBytes { all in
                let query = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                answerTCP(query, source: source, connection: connection, ring: ring)
            }
            guard connections[connection] != nil else { return }
        }
        if consumed > 0 { connections[connection]?.input.removeFirst(consumed) }
        // A client that sends more than it reads is cut off; answers (a zone transfer is most
        // of a zone) may be larger, they drain as the client reads.
        if (connections[connection]?.input.count ?? 0) > Self.maxBufferedBytes {
            responder.countDrop(.oversized)
            ring.close(connection)
            return
        }
        flush(connection, ring: ring)
    }

    private func answerTCP(_ query: UnsafeRawBufferPointer, source: UInt32, connection: ConnectionID, ring: RingContext) {
        let out = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<65_535])
        switch responder.respond(query, source: source, transport: .tcp, zones: zones, now: ring.now, into: out) {
        case .reply(let length):
            queue(UnsafeRawBufferPointer(rebasing: out[0..<length]), on: connection, ring: ring)
        case .forward(let info):
            guard let slot = ring.allocateSlot() else { return }
            forward(query, info: info, client: DNSClient(address: source, port: 0, connection: Self.handle(connection)),
                    slot: slot, ring: ring)
        case .transfer(let zone, let info):
            let messages = responder.transferMessages(zone: zone, zones: zones, info, query: query)
            connections[connection]?.output += messages
        case .drop:
            break
        }
    }

    /// Appends one message with its length prefix.
    private func queue(_ message: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {
        guard connections[connection] != nil else { return }
        connections[connection]!.output.append(UInt8(message.count >> 8))
        connections[connection]!.output.append(UInt8(message.count & 0xFF))
        connections[connection]!.output.append(contentsOf: message)
    }

    /// One slot at a time: the engine allows one send in flight per connection.
    private func flush(_ connection: ConnectionID, ring: RingContext) {
        guard var state = connections[connection], !state.sending, !state.output.isEmpty else { return }
        guard let slot = ring.allocateSlot() else { return }
        let n = min(slot.buffer.count, state.output.count)
        state.output.withUnsafeBytes { slot.buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        state.output.removeFirst(n)
        state.sending = true
        connections[connection] = state
        ring.send(slot, length: n, on: connection)
    }

    func sendCompleted(on connection: ConnectionID, ring: RingContext) {
        connections[connection]?.sending = false
        flush(connection, ring: ring)
    }

    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {
        connections[connection] = nil
        handles[Self.handle(connection)] = nil
    }

    // MARK: Tables

    func batchEnded(ring: RingContext) {
        guard tables.generation != generation else { return }
        snapshot = tables.snapshot
        zones = snapshot.zoneTable
        upstreams = Array(snapshot.upstreamDNS)
        generation = snapshot.generation
        responder.recursionAvailable = !upstreams.isEmpty
    }
}
