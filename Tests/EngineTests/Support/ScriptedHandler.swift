import Engine
import Glibc

/// A handler whose behaviour the test chooses: it records every event and, depending on its
/// settings, echoes datagrams, opens ephemeral sockets, answers connections and sends files.
/// Used on every backend, so the same service code is exercised everywhere.
final class ScriptedHandler: RingHandler, @unchecked Sendable {
    var udpPorts: [UInt16] = []
    var reusePort = false
    /// The batching budget of the sockets on `udpPorts`.
    var waitBudget: UInt32 = 0
    var tcpPort: UInt16?
    var idleTimeout: UInt64 = 30_000
    var totalTimeout: UInt64 = 0
    /// Echo each datagram back to its source from the socket it arrived on.
    var echo = true
    /// On a datagram "open", open an ephemeral socket connected to the sender and greet from it.
    var openEphemeralOnRequest = false
    /// After accepting, send this from a slot, then this file (path), then close if asked.
    var greeting: [UInt8] = []
    var filePath: String?
    var closeAfterSend = false

    private(set) var sockets: [SocketID] = []
    private(set) var ephemeral: [SocketID] = []
    private(set) var datagrams: [(socket: SocketID, payload: [UInt8], source: IPv4Endpoint, destination: UInt32, local: UInt32, interface: Int32)] = []
    private(set) var accepted: [ConnectionID] = []
    private(set) var received: [ConnectionID: [UInt8]] = [:]
    private(set) var closed: [(ConnectionID, CloseReason)] = []
    private(set) var timers: [UInt64] = []
    private(set) var batches = 0
    private var fileDescriptor: Int32 = -1
    private var stage: [ConnectionID: Int] = [:]

    func started(ring: RingContext) throws {
        for port in udpPorts {
            sockets.append(try ring.openUDP(UDPSocketOptions(bind: IPv4Endpoint(address: 0x7F00_0001, port: port), reusePort: reusePort,
                                                             waitBudgetMicroseconds: waitBudget)))
        }
        if let tcpPort {
            sockets.append(try ring.listenTCP(TCPListenerOptions(bind: IPv4Endpoint(address: 0x7F00_0001, port: tcpPort),
                                                                  reusePort: reusePort, idleTimeoutMilliseconds: idleTimeout,
                                                                  totalTimeoutMilliseconds: totalTimeout)))
        }
        if let filePath {
            fileDescriptor = open(filePath, O_RDONLY | O_CLOEXEC)
        }
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        let payload = Array(datagram.payload)
        datagrams.append((datagram.socket, payload, datagram.source, datagram.destinationAddress, datagram.localAddress, datagram.interfaceIndex))
        if openEphemeralOnRequest, payload == Array("open".utf8) {
            guard let socket = try? ring.openUDP(UDPSocketOptions(bind: IPv4Endpoint(address: 0x7F00_0001, port: 0), connect: datagram.source)) else { return }
            ephemeral.append(socket)
            reply(Array("hello".utf8), on: socket, to: datagram.source, ring: ring)
            return
        }
        if echo { reply(payload, on: datagram.socket, to: datagram.source, ring: ring) }
    }

    func reply(_ bytes: [UInt8], on socket: SocketID, to destination: IPv4Endpoint, ring: RingContext) {
        guard let slot = ring.allocateSlot() else { return }
        bytes.withUnsafeBytes { slot.buffer.copyMemory(from: $0) }
        ring.send(slot, length: bytes.count, on: socket, to: destination)
    }

    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, listener: SocketID, ring: RingContext) {
        accepted.append(connection)
        stage[connection] = 0
        advance(connection, ring: ring)
    }

    func sendCompleted(on connection: ConnectionID, ring: RingContext) {
        stage[connection, default: 0] += 1
        advance(connection, ring: ring)
    }

    /// Stage 0: greeting (if any); 1: the file (if any); 2: close (if asked).
    private func advance(_ connection: ConnectionID, ring: RingContext) {
        switch stage[connection] ?? 0 {
        case 0:
            if greeting.isEmpty { return sendCompleted(on: connection, ring: ring) }
            guard let slot = ring.allocateSlot() else { return }
            greeting.withUnsafeBytes { slot.buffer.copyMemory(from: $0) }
            ring.send(slot, length: greeting.count, on: connection)
        case 1:
            if fileDescriptor < 0 { return sendCompleted(on: connection, ring: ring) }
            var status = stat()
            fstat(fileDescriptor, &status)
            ring.sendFile(fileDescriptor, offset: 0, length: Int64(status.st_size), on: connection)
        default:
            if closeAfterSend { ring.close(connection) }
        }
    }

    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {
        received[connection, default: []].append(contentsOf: bytes)
    }

    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {
        closed.append((connection, reason))
    }

    func timerFired(token: UInt64, ring: RingContext) { timers.append(token) }

    func batchEnded(ring: RingContext) { batches += 1 }

    deinit { if fileDescriptor >= 0 { close(fileDescriptor) } }
}
