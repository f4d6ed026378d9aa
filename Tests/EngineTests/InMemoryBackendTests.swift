import Glibc
import Testing
@testable import Engine

/// Every engine feature on the in-memory backend: no kernel, deterministic time.
@Suite struct InMemoryBackendTests {
    static let client = IPv4Endpoint(address: 0xC612_0064, port: 68)   // 198.18.0.100:68

    @Test func datagramsReachTheHandlerAndRepliesLeaveFromTheSameSocket() throws {
        let handler = ScriptedHandler()
        handler.udpPorts = [6767]
        let ring = try InMemoryRing(handler: handler)
        #expect(ring.deliver([1, 2, 3], toPort: 6767, from: Self.client, destinationAddress: 0xFFFF_FFFF, localAddress: 0xC612_0001, interfaceIndex: 7))
        #expect(handler.datagrams.count == 1)
        #expect(handler.datagrams[0].destination == 0xFFFF_FFFF)
        #expect(handler.datagrams[0].local == 0xC612_0001)
        #expect(handler.datagrams[0].interface == 7)
        let sent = ring.takeSentDatagrams()
        #expect(sent.count == 1)
        #expect(sent[0].payload == [1, 2, 3])
        #expect(sent[0].destination == Self.client)
        #expect(sent[0].socket == handler.sockets[0])
        #expect(ring.context.counters.datagramsSent == 1)
        #expect(!ring.deliver([9], toPort: 9999, from: Self.client), "nothing listens on 9999")
    }

    @Test func exhaustedSendSlotsDropAndCountInsteadOfCrashing() throws {
        let handler = ScriptedHandler()
        handler.udpPorts = [6767]
        var configuration = RingConfiguration()
        configuration.sendSlots = 2
        let ring = try InMemoryRing(handler: handler, configuration: configuration)
        let a = try #require(ring.context.allocateSlot())
        let b = try #require(ring.context.allocateSlot())
        #expect(ring.context.allocateSlot() == nil)
        #expect(ring.context.counters.sendSlotsExhausted == 1)
        ring.deliver([1], toPort: 6767, from: Self.client)   // echo finds no slot
        #expect(ring.sentDatagrams.isEmpty)
        #expect(ring.context.counters.sendSlotsExhausted == 2)
        ring.context.release(a)
        ring.context.release(b)
        ring.deliver([1], toPort: 6767, from: Self.client)
        #expect(ring.sentDatagrams.count == 1)
    }

    @Test func thousandsOfEphemeralSocketsOpenServeAndClose() throws {
        let handler = ScriptedHandler()
        handler.udpPorts = [6969]
        handler.openEphemeralOnRequest = true
        let ring = try InMemoryRing(handler: handler)
        for i in 0..<2000 {
            ring.deliver(Array("open".utf8), toPort: 6969, from: IPv4Endpoint(address: 0xC612_0000 + UInt32(i % 250), port: UInt16(10_000 + i)))
        }
        #expect(handler.ephemeral.count == 2000)
        #expect(Set(handler.ephemeral).count == 2000)
        let greetings = ring.takeSentDatagrams()
        #expect(greetings.count == 2000)
        #expect(greetings.allSatisfy { $0.payload == Array("hello".utf8) && $0.socket != handler.sockets[0] })
        // Traffic to an ephemeral socket reaches the handler tagged with that socket.
        ring.deliver([42], toPort: 0, from: Self.client, socket: handler.ephemeral[17])
        #expect(handler.datagrams.last?.socket == handler.ephemeral[17])
        for socket in handler.ephemeral { ring.context.close(socket) }
        #expect(ring.openDescriptors == 1)
        // A closed socket's ID is stale: nothing is delivered or sent on it.
        #expect(!ring.deliver([1], toPort: 0, from: Self.client, socket: handler.ephemeral[0]))
    }

    @Test func tcpGreetingThenFileThenClose() throws {
        let path = "/tmp/rackplane-engine-\(getpid())-memory.bin"
        let contents = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        _ = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        defer { unlink(path) }

        let handler = ScriptedHandler()
        handler.tcpPort = 5248
        handler.greeting = Array("HTTP/1.1 200 OK\r\n\r\n".utf8)
        handler.filePath = path
        handler.closeAfterSend = true
        let ring = try InMemoryRing(handler: handler)
        let connection = try #require(ring.connect(toPort: 5248, from: IPv4Endpoint(address: 0xC612_0064, port: 40_000)))
        ring.deliver(Array("GET / HTTP/1.1\r\n\r\n".utf8), on: connection)
        #expect(handler.received[connection] == Array("GET / HTTP/1.1\r\n\r\n".utf8))
        ring.completeSends()
        #expect(ring.output(of: connection) == handler.greeting + contents)
        #expect(!ring.isOpen(connection))
        #expect(handler.closed.count == 1 && handler.closed[0].1 == .local)
        #expect(ring.context.counters.fileBytesSent == UInt64(contents.count))
    }

    @Test func idleConnectionsCloseAndActivityKeepsThemOpen() throws {
        let handler = ScriptedHandler()
        handler.tcpPort = 53
        handler.idleTimeout = 1000
        let ring = try InMemoryRing(handler: handler)
        let quiet = try #require(ring.connect(toPort: 53, from: IPv4Endpoint(address: 1, port: 1)))
        let busy = try #require(ring.connect(toPort: 53, from: IPv4Endpoint(address: 2, port: 2)))
        for _ in 0..<5 {
            ring.advance(milliseconds: 400)
            ring.deliver([0], on: busy)
        }
        #expect(!ring.isOpen(quiet))
        #expect(ring.isOpen(busy))
        #expect(handler.closed.map(\.0) == [quiet])
        #expect(handler.closed[0].1 == .idleTimeout)
        ring.advance(milliseconds: 1100)
        #expect(!ring.isOpen(busy))
        #expect(ring.context.counters.idleTimeouts == 2)
    }

    @Test func totalTimeoutClosesEvenABusyConnection() throws {
        let handler = ScriptedHandler()
        handler.tcpPort = 80
        handler.totalTimeout = 2000
        let ring = try InMemoryRing(handler: handler)
        let connection = try #require(ring.connect(toPort: 80, from: IPv4Endpoint(address: 1, port: 1)))
        for _ in 0..<19 {
            ring.advance(milliseconds: 100)
            ring.deliver([0], on: connection)
        }
        #expect(ring.isOpen(connection))
        ring.advance(milliseconds: 200)
        #expect(!ring.isOpen(connection))
        #expect(handler.closed.first?.1 == .totalTimeout)
    }

    @Test func peerCloseIsReportedOnceAndStaleIDsAreIgnored() throws {
        let handler = ScriptedHandler()
        handler.tcpPort = 80
        let ring = try InMemoryRing(handler: handler)
        let connection = try #require(ring.connect(toPort: 80, from: IPv4Endpoint(address: 1, port: 1)))
        ring.peerClose(connection)
        ring.peerClose(connection)
        ring.context.close(connection)
        #expect(handler.closed.count == 1 && handler.closed[0].1 == .peerClosed)
        // The table slot is reused with a new generation; the old ID stays dead.
        let next = try #require(ring.connect(toPort: 80, from: IPv4Endpoint(address: 2, port: 2)))
        #expect(next.index == connection.index && next.generation != connection.generation)
        ring.deliver([1], on: connection)
        #expect(handler.received[connection] == nil)
        #expect(ring.isOpen(next))
    }

    @Test func serviceTimersFireOnceInOrder() throws {
        let handler = ScriptedHandler()
        let ring = try InMemoryRing(handler: handler)
        _ = ring.context.schedule(afterMilliseconds: 300, token: 3)
        _ = ring.context.schedule(afterMilliseconds: 100, token: 1)
        let cancelled = ring.context.schedule(afterMilliseconds: 200, token: 2)
        ring.context.cancel(cancelled)
        ring.advance(milliseconds: 150)
        #expect(handler.timers == [1])
        ring.advance(milliseconds: 1000)
        #expect(handler.timers == [1, 3])
    }

    @Test func framesGoOutWhole() throws {
        let handler = ScriptedHandler()
        let ring = try InMemoryRing(handler: handler)
        let slot = try #require(ring.context.allocateSlot())
        for i in 0..<60 { slot.buffer[i] = UInt8(i) }
        try ring.context.sendFrame(slot, length: 60, interfaceIndex: 3, destinationMAC: 0x5254_0000_0001)
        #expect(ring.sentFrames == [.init(frame: (0..<60).map(UInt8.init), interfaceIndex: 3, destinationMAC: 0x5254_0000_0001)])
    }

    @Test func shutdownClosesEverything() throws {
        let handler = ScriptedHandler()
        handler.udpPorts = [67, 69]
        handler.tcpPort = 80
        let ring = try InMemoryRing(handler: handler)
        let connection = try #require(ring.connect(toPort: 80, from: IPv4Endpoint(address: 1, port: 1)))
        #expect(ring.openDescriptors == 4)
        ring.stop()
        #expect(ring.openDescriptors == 0)
        #expect(handler.closed.map(\.1) == [.shutdown])
        #expect(!ring.isOpen(connection))
    }

    @Test func userDataRoundTripsItsBitLayout() {
        let data = UserData(.streamSend, index: 0xFFFF_FFFE, generation: 0xABCDEF)
        #expect(data.operation == .streamSend)
        #expect(data.index == 0xFFFF_FFFE)
        #expect(data.generation == 0xABCDEF)
        // Generations wrap at 24 bits rather than spilling into the operation.
        #expect(UserData(.accept, index: 1, generation: 0x1FF_FFFF).operation == .accept)
    }

    @Test func segmentedSendsArriveAsSeparateDatagramsInOrder() throws {
        let handler = SegmentingHandler(count: 5, chunk: 100, lastChunk: 0)
        let ring = try InMemoryRing(handler: handler)
        let port = try #require(handler.port)
        #expect(ring.deliver([1], toPort: port, from: Self.client))
        let sent = ring.takeSentDatagrams()
        #expect(sent.map(\.payload.count) == [104, 104, 104, 104, 4])
        #expect(sent.map { $0.payload[3] } == [0, 1, 2, 3, 4])
        #expect(sent.allSatisfy { $0.destination == Self.client })
        #expect(ring.context.counters.segmentedSends == 1)
        #expect(ring.context.counters.datagramsSent == 5)
    }
}
