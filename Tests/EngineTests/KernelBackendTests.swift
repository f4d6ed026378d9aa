import Glibc
import Synchronization
import Testing
@testable import Engine

/// Both kernel backends live on loopback (127.0.0.1 only): real sockets, real ring threads, the
/// same handlers and the same expectations. io_uring cases are left out (and say so) where the
/// kernel forbids io_uring, so the suite still runs on such a machine.
enum KernelBackends {
    static let all: [EngineBackend] = {
        if let reason = IOURingProbe.unavailableReason() {
            print("io_uring unavailable here (\(reason)): its live tests are skipped")
            return [.epoll]
        }
        return [.ioURing, .epoll]
    }()
}

@Suite("Kernel backends", .serialized, .timeLimit(.minutes(2)))
struct KernelBackendTests {
    static func configuration(sockets: Int = 64, datagramBufferSize: Int = 2048) -> RingConfiguration {
        var configuration = RingConfiguration()
        configuration.maxSockets = sockets
        configuration.maxConnections = 64
        configuration.sendSlots = 256
        configuration.datagramBuffers = 64
        configuration.datagramBufferSize = datagramBufferSize
        return configuration
    }

    // MARK: UDP

    @Test("UDP echo: N datagrams out, N echoes back, IP_PKTINFO names lo and 127.0.0.1", arguments: KernelBackends.all)
    func udpEcho(backend: EngineBackend) throws {
        let handler = UDPEchoHandler()
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }
        let port = try #require(handler.ports.first)

        let client = try UDPClient()
        let total = 512
        var echoed = 0
        // Windows of 64 keep the client's receive buffer from overflowing.
        for window in stride(from: 0, to: total, by: 64) {
            for n in window..<window + 64 { try client.send(Self.payload(n), to: port) }
            for _ in 0..<64 {
                let reply = try #require(client.receive())
                #expect(reply.port == port)
                #expect(reply.address == Loopback.address)
                #expect(reply.bytes.count == 12)
                echoed += 1
            }
        }
        #expect(echoed == total)

        let observed = handler.observed
        let loopbackIndex = try #require(NetworkInterfaces.index(of: "lo"))
        #expect(observed.datagrams == total)
        #expect(observed.interfaceIndices == [loopbackIndex])
        #expect(observed.localAddresses == [Loopback.address])
        #expect(observed.destinationAddresses == [Loopback.address])
        #expect(observed.sources == [client.port])
        #expect(observed.backend == backend.rawValue)
        engine.stop()
        engine.wait()
        let counters = engine.counters()[0]
        #expect(counters.datagramsReceived == UInt64(total))
        #expect(counters.datagramsSent == UInt64(total))
        #expect(counters.datagramSendErrors == 0)
        #expect(counters.sendSlotsExhausted == 0)
    }

    @Test("io_uring batched waiting: a steady stream on a patient socket is held in batches and every echo returns",
          .enabled(if: KernelBackends.all.contains(.ioURing)))
    func batchedWaiting() throws {
        let handler = UDPEchoHandler(waitBudget: 2000)
        var configuration = Self.configuration()
        configuration.coalesceMicroseconds = 2000
        let engine = Engine(rings: 1, backend: .ioURing, configuration: configuration) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }
        let port = try #require(handler.ports.first)

        // Windows of 16 until the ring has held a batch (the first period's rate opens the
        // window), or 5 s on a machine too busy to reach the rate, or a kernel without min_wait.
        let client = try UDPClient()
        let counters = try #require(engine.counters().first)
        let start = MonotonicClock.milliseconds()
        var sent = 0
        var echoed = 0
        while MonotonicClock.milliseconds() - start < 5000,
              counters.coalescedWaits == 0 || MonotonicClock.milliseconds() - start < 3 * BatchingWindow.periodMilliseconds {
            for n in 0..<16 { try client.send(Self.payload(sent + n), to: port) }
            sent += 16
            for _ in 0..<16 {
                _ = try #require(client.receive())
                echoed += 1
            }
        }
        #expect(echoed == sent)
        // A kernel before 6.12 refuses min_wait_usec: the ring then waits one by one (logged).
        if kernelAtLeast(6, 12) { #expect(counters.coalescedWaits > 0) }
        #expect(counters.datagramsReceived == UInt64(sent))
    }

    @Test("sendSegmented: 40 datagrams of header + chunk (the last short) arrive in order, as one send on io_uring",
          arguments: KernelBackends.all)
    func segmentedSend(backend: EngineBackend) throws {
        let handler = SegmentingHandler(count: 40, chunk: 1000, lastChunk: 123)
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }
        let port = try #require(handler.port)
        let client = try UDPClient()
        try client.send([1], to: port)
        for i in 0..<40 {
            let reply = try #require(client.receive())
            #expect(reply.bytes.count == 4 + (i == 39 ? 123 : 1000))
            #expect(Array(reply.bytes.prefix(4)) == [0, 3, UInt8(i >> 8), UInt8(i & 0xFF)])
            #expect(reply.bytes.dropFirst(4).allSatisfy { $0 == UInt8(truncatingIfNeeded: i) })
        }
        // The send's completion may be reaped just after the datagrams arrived.
        let counters = try #require(engine.counters().first)
        for _ in 0..<200 where counters.datagramsSent < 40 { usleep(5000) }
        #expect(counters.datagramsSent == 40)
        #expect(counters.segmentedSends == (backend == .ioURing ? 1 : 0))
    }

    @Test("A datagram longer than the receive buffer arrives cut and marked truncated", arguments: KernelBackends.all)
    func truncatedDatagram(backend: EngineBackend) throws {
        let handler = UDPEchoHandler()
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration(datagramBufferSize: 256)) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }
        let port = try #require(handler.ports.first)

        let client = try UDPClient()
        try client.send([UInt8](repeating: 0xAB, count: 1000), to: port)
        let reply = try #require(client.receive())
        // epoll receives the payload alone into the buffer; io_uring's provided buffer also
        // holds the recvmsg header, source address and control data. Either way: a cut prefix.
        #expect(reply.bytes.count >= 128 && reply.bytes.count <= 256)
        #expect(reply.bytes.allSatisfy { $0 == 0xAB })
        #expect(handler.observed.truncated == 1)
        engine.stop()
        engine.wait()
        #expect(engine.counters()[0].datagramsTruncated == 1)
    }

    @Test("io_uring: an empty provided-buffer ring (ENOBUFS) is counted and recovered", .enabled(if: KernelBackends.all.contains(.ioURing)))
    func receiveBuffersExhaustedAndRecovered() throws {
        var configuration = Self.configuration()
        configuration.datagramBuffers = 2     // the kernel runs dry at once under a burst
        let handler = UDPEchoHandler()
        let engine = Engine(rings: 1, backend: .ioURing, configuration: configuration) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }
        let port = try #require(handler.ports.first)
        let client = try UDPClient()
        for n in 0..<64 { try client.send(Self.payload(n), to: port) }
        // Drain whatever came back from the burst.
        while client.receive() != nil {}
        // The receive was re-armed: one request at a time is answered every time.
        for n in 0..<20 {
            try client.send(Self.payload(n), to: port)
            #expect(client.receive() != nil, "request \(n) after the burst")
        }
        engine.stop()
        engine.wait()
        #expect(engine.counters()[0].receiveBuffersExhausted > 0)
    }

    @Test("Two rings share a port with SO_REUSEPORT and both serve", arguments: KernelBackends.all)
    func reusePortAcrossRings(backend: EngineBackend) throws {
        let port = try Loopback.freeUDPPort()
        let handlers = [UDPEchoHandler(port: port, reusePort: true, tagWithRing: true),
                        UDPEchoHandler(port: port, reusePort: true, tagWithRing: true)]
        let engine = Engine(rings: 2, backend: backend, configuration: Self.configuration()) { handlers[$0] }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        // The kernel spreads by the 4-tuple hash: 32 source ports all on one ring would be a
        // 1-in-2^31 event.
        var rings = Set<UInt8>()
        for n in 0..<32 {
            let client = try UDPClient()
            try client.send(Self.payload(n), to: port)
            let reply = try #require(client.receive())
            #expect(reply.port == port)
            #expect(Array(reply.bytes.dropFirst()) == Self.payload(n))
            rings.insert(try #require(reply.bytes.first))
        }
        #expect(rings == [0, 1])
        #expect(handlers[0].observed.datagrams + handlers[1].observed.datagrams == 32)
    }

    @Test("500 ephemeral sockets opened by the handler each echo from their own port", arguments: KernelBackends.all)
    func ephemeralSockets(backend: EngineBackend) throws {
        let handler = UDPEchoHandler(socketCount: 500)
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration(sockets: 600)) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }
        let ports = handler.ports
        #expect(ports.count == 500)
        #expect(Set(ports).count == 500)

        let client = try UDPClient()
        var answered = Set<UInt16>()
        for window in stride(from: 0, to: ports.count, by: 50) {
            let slice = ports[window..<min(window + 50, ports.count)]
            for (n, port) in zip(window..., slice) { try client.send(Self.payload(n), to: port) }
            for _ in slice {
                let reply = try #require(client.receive())
                #expect(slice.contains(reply.port))
                answered.insert(reply.port)
            }
        }
        #expect(answered == Set(ports))
    }

    @Test("A reply with neither IP_PKTINFO nor extra bytes (io_uring: send with the address in the SQE) reaches its source",
          arguments: KernelBackends.all)
    func plainReply(backend: EngineBackend) throws {
        let handler = PlainEchoHandler()
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        let clients = [try UDPClient(), try UDPClient()]
        for n in 0..<64 {
            let client = clients[n % 2]
            try client.send(Self.payload(n), to: handler.port)
            let reply = try #require(client.receive())
            #expect(reply.port == handler.port)
            #expect(reply.bytes == Self.payload(n))
        }
        engine.stop()
        engine.wait()
        #expect(engine.counters()[0].datagramsSent == 64)
        #expect(engine.counters()[0].datagramSendErrors == 0)
    }

    @Test("A datagram's extra bytes follow the slot's, in one datagram", arguments: KernelBackends.all)
    func extraBytes(backend: EngineBackend) throws {
        let handler = RawSendHandler()
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        let client = try UDPClient()
        try client.send(Array("extra".utf8), to: handler.port)
        let reply = try #require(client.receive())
        #expect(reply.bytes == Array("slot|".utf8) + RawSendHandler.extra)
    }

    /// The frame is checked with a packet socket: the kernel itself drops it before UDP, as a
    /// 127.0.0.1 source arriving without a route attached is a martian (`ip_route_input_slow`).
    @Test("sendFrame: the exact Ethernet frame goes out on lo", .enabled(if: RawSendHandler.canOpenPacketSocket), arguments: KernelBackends.all)
    func frameOnLoopback(backend: EngineBackend) throws {
        let handler = RawSendHandler()
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        let sniffer = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(UInt16(0x0800).bigEndian))
        try #require(sniffer >= 0)
        defer { close(sniffer) }
        Loopback.setReceiveTimeout(sniffer, milliseconds: 2000)

        let client = try UDPClient()
        try client.send(Array("frame".utf8), to: handler.port)
        var expected = [UInt8](repeating: 0, count: 128)
        let length = expected.withUnsafeMutableBytes {
            RawSendHandler.writeFrame(into: $0, payload: Array("framed".utf8),
                                      from: IPv4Endpoint(address: Loopback.address, port: handler.port),
                                      to: IPv4Endpoint(address: Loopback.address, port: client.port))
        }
        expected.removeLast(expected.count - length)

        var seen = false
        var buffer = [UInt8](repeating: 0, count: 2048)
        let deadline = Loopback.milliseconds() + 3000
        while !seen && Loopback.milliseconds() < deadline {
            let received = buffer.withUnsafeMutableBytes { recv(sniffer, $0.baseAddress, $0.count, 0) }
            if received < 0 { break }
            seen = Array(buffer[0..<received]) == expected
        }
        #expect(seen)
        #expect(handler.frameErrors.isEmpty)
        engine.stop()
        engine.wait()
        #expect(engine.counters()[0].framesSent == 1)
    }

    // MARK: TCP

    @Test("TCP: a reply from a send slot, then 5 MiB with sendfile, then close", arguments: KernelBackends.all)
    func tcpSlotThenFile(backend: EngineBackend) throws {
        let size = 5 << 20
        let (path, content) = try Self.patternFile("/tmp/rackplane-epoll-test", size: size, seed: 0x1234_5678)
        defer { unlink(path) }

        let handler = try TCPFileHandler(path: path, idleTimeoutMilliseconds: 10_000)
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        let client = try TCPClient(port: handler.port, receiveTimeoutMilliseconds: 5000)
        let result = client.readAll(deadlineMilliseconds: 20_000)
        #expect(result.eof)
        #expect(result.error == nil)
        let header = Array(TCPFileHandler.header.utf8)
        #expect(result.bytes.count == header.count + size)
        #expect(Array(result.bytes.prefix(header.count)) == header)
        #expect(result.bytes.dropFirst(header.count).elementsEqual(content))

        #expect(Self.waitUntil { handler.closedReasons.count == 1 })
        #expect(handler.closedReasons == [.local])
        engine.stop()
        engine.wait()
        let counters = engine.counters()[0]
        #expect(counters.fileBytesSent == UInt64(size))
        #expect(counters.streamBytesSent == UInt64(header.count))
        #expect(counters.connectionsAccepted == 1)
        #expect(counters.connectionsClosed == 1)
        // Just written, so in the page cache: io_uring spliced all of it on the ring thread.
        #expect(counters.fileReadsQueued == 0)
    }

    @Test("TCP on io_uring: a file not in the page cache is read by io_uring's workers and arrives intact",
          .enabled(if: KernelBackends.all.contains(.ioURing)))
    func tcpFileFromColdCache() throws {
        let size = 5 << 20
        let (path, content) = try Self.patternFile("/var/tmp/rackplane-cold-test", size: size, seed: 0x2545_F491)
        defer { unlink(path) }
        // Written back, then dropped from the page cache (clean pages go at once).
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        #expect(descriptor >= 0)
        #expect(fsync(descriptor) == 0)
        #expect(posix_fadvise(descriptor, 0, 0, POSIX_FADV_DONTNEED) == 0)
        close(descriptor)

        let handler = try TCPFileHandler(path: path, idleTimeoutMilliseconds: 10_000)
        let engine = Engine(rings: 1, backend: .ioURing, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        let client = try TCPClient(port: handler.port, receiveTimeoutMilliseconds: 5000)
        let result = client.readAll(deadlineMilliseconds: 20_000)
        #expect(result.eof)
        let header = Array(TCPFileHandler.header.utf8)
        #expect(result.bytes.count == header.count + size)
        #expect(result.bytes.dropFirst(header.count).elementsEqual(content))
        #expect(Self.waitUntil { handler.closedReasons.count == 1 })
        engine.stop()
        engine.wait()
        let counters = engine.counters()[0]
        #expect(counters.fileBytesSent == UInt64(size))
        #expect(counters.fileReadsQueued > 0)
    }

    @Test("TCP: a reader that stops mid-file is cut off by the idle timeout; one that goes away closes with an error",
          arguments: KernelBackends.all)
    func fileToReaderThatStopsOrLeaves(backend: EngineBackend) throws {
        let size = 32 << 20   // far more than loopback's socket buffers hold
        let path = "/tmp/rackplane-stall-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).bin"
        try Self.writeFile(path, [UInt8](repeating: 0x5A, count: size))
        defer { unlink(path) }

        let handler = try TCPFileHandler(path: path, idleTimeoutMilliseconds: 300)
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        let stalled = try TCPClient(port: handler.port, receiveTimeoutMilliseconds: 5000)   // never reads
        #expect(Self.waitUntil(milliseconds: 5000) { handler.closedReasons.count == 1 })
        #expect(handler.closedReasons == [.idleTimeout])
        _ = stalled
        do {
            // Reads 1 MiB and closes with the rest unread: the next write meets a reset, which
            // must close the connection (EPIPE or ECONNRESET), not raise SIGPIPE.
            let leaving = try TCPClient(port: handler.port, receiveTimeoutMilliseconds: 5000)
            #expect(leaving.readAll(limit: 1 << 20).bytes.count == 1 << 20)
        }
        #expect(Self.waitUntil(milliseconds: 5000) { handler.closedReasons.count == 2 })
        if handler.closedReasons.count == 2, case .error(let error) = handler.closedReasons[1] {
            #expect(error == EPIPE || error == ECONNRESET)
        } else {
            Issue.record("closed: \(handler.closedReasons)")
        }
        engine.stop()
        engine.wait()
        let counters = engine.counters()[0]
        #expect(counters.connectionsClosed == 2)
        #expect(counters.fileBytesSent == 0)
    }

    @Test("TCP: a file truncated after its send was sized sends what exists, then closes with EIO",
          arguments: KernelBackends.all)
    func fileTruncatedUnderTheSend(backend: EngineBackend) throws {
        let path = "/var/tmp/rackplane-truncated-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).bin"
        try Self.writeFile(path, [UInt8](repeating: 0x3C, count: 5 << 20))
        defer { unlink(path) }
        let handler = try TCPFileHandler(path: path, idleTimeoutMilliseconds: 10_000)   // sizes the send: 5 MiB
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }
        #expect(truncate(path, 2 << 20) == 0)

        let client = try TCPClient(port: handler.port, receiveTimeoutMilliseconds: 5000)
        let result = client.readAll(deadlineMilliseconds: 20_000)
        #expect(result.bytes.count == TCPFileHandler.header.utf8.count + (2 << 20))
        #expect(Self.waitUntil { handler.closedReasons.count == 1 })
        #expect(handler.closedReasons == [.error(EIO)])
    }

    @Test("TCP: stop() in the middle of a file to a reader that paused ends the ring at once",
          arguments: KernelBackends.all)
    func stopDuringFileSend(backend: EngineBackend) throws {
        let path = "/tmp/rackplane-stop-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).bin"
        try Self.writeFile(path, [UInt8](repeating: 0x7E, count: 32 << 20))
        defer { unlink(path) }
        let handler = try TCPFileHandler(path: path, idleTimeoutMilliseconds: 30_000)
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        let client = try TCPClient(port: handler.port, receiveTimeoutMilliseconds: 5000)
        #expect(client.readAll(limit: 1 << 20).bytes.count == 1 << 20)   // then stops reading
        let before = Loopback.milliseconds()
        engine.stop()
        engine.wait()
        #expect(Loopback.milliseconds() - before < 2000)
        #expect(handler.closedReasons == [.shutdown])
        #expect(engine.counters()[0].fileBytesSent == 0)
    }

    @Test("TCP on io_uring with send_zc from a mapping: 5 MiB arrive intact, every notification in before sendCompleted",
          .enabled(if: KernelBackends.all.contains(.ioURing)))
    func tcpZeroCopySendFile() throws {
        let size = 5 << 20
        let (path, content) = try Self.patternFile("/tmp/rackplane-sendzc-test", size: size, seed: 0x9E37_79B9)
        defer { unlink(path) }

        var configuration = Self.configuration()
        configuration.fileSendMethod = .zeroCopySend
        let handler = try TCPFileHandler(path: path, idleTimeoutMilliseconds: 10_000)
        let engine = Engine(rings: 1, backend: .ioURing, configuration: configuration) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        // Two connections one after the other: the second maps the file again after the first
        // mapping was released.
        for _ in 0..<2 {
            let client = try TCPClient(port: handler.port, receiveTimeoutMilliseconds: 5000)
            let result = client.readAll(deadlineMilliseconds: 20_000)
            #expect(result.eof)
            #expect(result.error == nil)
            let header = Array(TCPFileHandler.header.utf8)
            #expect(result.bytes.count == header.count + size)
            #expect(Array(result.bytes.prefix(header.count)) == header)
            #expect(result.bytes.dropFirst(header.count).elementsEqual(content))
        }
        #expect(Self.waitUntil { handler.closedReasons.count == 2 })
        #expect(handler.closedReasons == [.local, .local])
        engine.stop()
        engine.wait()
        let counters = engine.counters()[0]
        #expect(counters.fileBytesSent == UInt64(2 * size))
        #expect(counters.connectionsAccepted == 2)
        #expect(counters.connectionsClosed == 2)
    }

    @Test("send_zc to a reader that stops: the idle timeout closes it, queued pages are let go, the ring stops",
          .enabled(if: KernelBackends.all.contains(.ioURing)))
    func zeroCopySendToStalledReader() throws {
        let size = 32 << 20   // far more than loopback's socket buffers hold
        let path = "/tmp/rackplane-sendzc-stall-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).bin"
        try Self.writeFile(path, [UInt8](repeating: 0x5A, count: size))
        defer { unlink(path) }

        var configuration = Self.configuration()
        configuration.fileSendMethod = .zeroCopySend
        let handler = try TCPFileHandler(path: path, idleTimeoutMilliseconds: 300)
        let engine = Engine(rings: 1, backend: .ioURing, configuration: configuration) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        let client = try TCPClient(port: handler.port, receiveTimeoutMilliseconds: 5000)   // never reads
        #expect(Self.waitUntil(milliseconds: 5000) { handler.closedReasons.count == 1 })
        #expect(handler.closedReasons == [.idleTimeout])
        _ = client
        let before = Loopback.milliseconds()
        engine.stop()
        engine.wait()
        #expect(Loopback.milliseconds() - before < 1000)
        let counters = engine.counters()[0]
        #expect(counters.connectionsClosed == 1)
        #expect(counters.fileBytesSent == 0)
    }

    @Test("TCP: bytes the client sends reach the handler", arguments: KernelBackends.all)
    func tcpReceive(backend: EngineBackend) throws {
        let handler = try TCPFileHandler(path: nil, idleTimeoutMilliseconds: 10_000)
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        let client = try TCPClient(port: handler.port)
        let message = [UInt8]((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try client.send(message)
        #expect(Self.waitUntil { handler.receivedBytes.count == message.count })
        #expect(handler.receivedBytes == message)
        shutdown(client.fd, Int32(SHUT_RDWR))
        #expect(Self.waitUntil { handler.closedReasons.count == 1 })
        #expect(handler.closedReasons == [.peerClosed])
    }

    @Test("Connection tables grow to the most open at once; a full table refuses; freed entries are reused first",
          arguments: KernelBackends.all)
    func connectionTablesGrowToThePeak(backend: EngineBackend) throws {
        let handler = try TCPFileHandler(path: nil, idleTimeoutMilliseconds: 10_000)
        var configuration = Self.configuration()
        configuration.maxConnections = 4
        let engine = Engine(rings: 1, backend: backend, configuration: configuration) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        var clients = try (0..<3).map { _ in try TCPClient(port: handler.port) }
        #expect(Self.waitUntil { handler.acceptedCount == 3 })
        #expect(handler.connectionTableSize == 3)
        shutdown(clients.removeFirst().fd, Int32(SHUT_RDWR))
        #expect(Self.waitUntil { handler.closedReasons.count == 1 })
        // Three more: the freed entry first, then the fourth; the fifth finds the table full.
        for _ in 0..<3 {
            clients.append(try TCPClient(port: handler.port, receiveTimeoutMilliseconds: 3000))
            _ = Self.waitUntil { handler.acceptedCount + Int(engine.counters()[0].connectionsRefused) == clients.count + 1 }
        }
        #expect(handler.acceptedCount == 5)
        #expect(handler.connectionIndices == [0, 1, 2, 0, 3])
        #expect(handler.connectionTableSize == 4)
        let refused = clients.last!.readAll(deadlineMilliseconds: 3000)
        #expect(refused.eof && refused.bytes.isEmpty)
        engine.stop()
        engine.wait()
        #expect(engine.counters()[0].connectionsRefused == 1)
    }

    @Test("An idle connection is closed after the listener's idle timeout", arguments: KernelBackends.all)
    func idleTimeout(backend: EngineBackend) throws {
        let handler = try TCPFileHandler(path: nil, idleTimeoutMilliseconds: 200)
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in handler }
        try engine.start()
        defer { engine.stop(); engine.wait() }

        let started = Loopback.milliseconds()
        let client = try TCPClient(port: handler.port, receiveTimeoutMilliseconds: 3000)
        let result = client.readAll(deadlineMilliseconds: 3000)
        let elapsed = Loopback.milliseconds() - started
        #expect(result.eof)
        #expect(result.bytes.isEmpty)
        #expect(elapsed >= 150 && elapsed < 2000, "closed after \(elapsed) ms")
        #expect(Self.waitUntil { handler.closedReasons.count == 1 })
        #expect(handler.closedReasons == [.idleTimeout])
        engine.stop()
        engine.wait()
        #expect(engine.counters()[0].idleTimeouts == 1)
    }

    // MARK: Shutdown

    @Test("stop() closes every socket, listener and connection and ends the ring", arguments: KernelBackends.all)
    func stopClosesEverything(backend: EngineBackend) throws {
        let udp = UDPEchoHandler()
        let tcp = try TCPFileHandler(path: nil, idleTimeoutMilliseconds: 0)  // no timers: only wake() ends the wait
        let combined = CombinedHandler(udp: udp, tcp: tcp)
        let engine = Engine(rings: 1, backend: backend, configuration: Self.configuration()) { _ in combined }
        try engine.start()
        let udpPort = try #require(udp.ports.first)
        let client = try TCPClient(port: tcp.port, receiveTimeoutMilliseconds: 3000)
        #expect(Self.waitUntil { tcp.acceptedCount == 1 })

        let before = Loopback.milliseconds()
        engine.stop()
        engine.wait()
        let elapsed = Loopback.milliseconds() - before
        #expect(elapsed < 1000, "stop took \(elapsed) ms")

        let result = client.readAll(deadlineMilliseconds: 3000)
        #expect(result.eof)
        #expect(tcp.closedReasons == [.shutdown])
        #expect(Loopback.udpPortIsFree(udpPort))
        #expect(throws: LoopbackError.self) { _ = try TCPClient(port: tcp.port) }
        #expect(engine.counters()[0].connectionsClosed == 1)
    }

    // MARK: Helpers

    static func payload(_ n: Int) -> [UInt8] {
        withUnsafeBytes(of: UInt64(n).bigEndian) { Array($0) } + [0xEC, 0x40, 0x0A, 0x0B]
    }

    static func waitUntil(milliseconds: UInt64 = 3000, _ condition: () -> Bool) -> Bool {
        let deadline = Loopback.milliseconds() + milliseconds
        while Loopback.milliseconds() < deadline {
            if condition() { return true }
            usleep(2000)
        }
        return condition()
    }

    /// A new file at `prefix`-PID-random.bin of `size` bytes in a cheap pattern no truncation
    /// or reordering hides; the caller unlinks it.
    static func patternFile(_ prefix: String, size: Int, seed: UInt32) throws -> (path: String, content: [UInt8]) {
        let path = "\(prefix)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).bin"
        var content = [UInt8](repeating: 0, count: size)
        var state = seed
        for i in 0..<size {
            state = state &* 1_664_525 &+ 1_013_904_223
            content[i] = UInt8(truncatingIfNeeded: state >> 24)
        }
        try writeFile(path, content)
        return (path, content)
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LoopbackError(call: "open", errno: errno) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { throw LoopbackError(call: "write", errno: errno) }
            offset += written
        }
    }
}

// MARK: Handlers

/// Echoes every datagram from the socket it arrived on, to its source, from the local address
/// and interface IP_PKTINFO reported. Optionally prefixes the ring's index.
final class UDPEchoHandler: RingHandler, @unchecked Sendable {
    struct Observed {
        var ports: [UInt16] = []
        var datagrams = 0
        var truncated = 0
        var interfaceIndices = Set<Int32>()
        var localAddresses = Set<UInt32>()
        var destinationAddresses = Set<UInt32>()
        var sources = Set<UInt16>()
        var backend = ""
    }

    let port: UInt16
    let reusePort: Bool
    let socketCount: Int
    let tagWithRing: Bool
    let waitBudget: UInt32
    private let state = Mutex(Observed())

    init(port: UInt16 = 0, reusePort: Bool = false, socketCount: Int = 1, tagWithRing: Bool = false, waitBudget: UInt32 = 0) {
        self.waitBudget = waitBudget
        self.port = port
        self.reusePort = reusePort
        self.socketCount = socketCount
        self.tagWithRing = tagWithRing
    }

    var observed: Observed { state.withLock { $0 } }
    var ports: [UInt16] { state.withLock { $0.ports } }

    func started(ring: RingContext) throws {
        var ports: [UInt16] = []
        for _ in 0..<socketCount {
            let socket = try ring.openUDP(UDPSocketOptions(bind: IPv4Endpoint(address: Loopback.address, port: port),
                                                           reusePort: reusePort, waitBudgetMicroseconds: waitBudget))
            ports.append(try ring.localEndpoint(of: socket).port)
        }
        let backend = ring.backendName
        state.withLock {
            $0.ports = ports
            $0.backend = backend
        }
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        state.withLock {
            $0.datagrams += 1
            if datagram.truncated { $0.truncated += 1 }
            $0.interfaceIndices.insert(datagram.interfaceIndex)
            $0.localAddresses.insert(datagram.localAddress)
            $0.destinationAddresses.insert(datagram.destinationAddress)
            $0.sources.insert(datagram.source.port)
        }
        guard let slot = ring.allocateSlot() else { return }
        var length = 0
        if tagWithRing {
            slot.buffer[0] = UInt8(ring.index)
            length = 1
        }
        let count = min(datagram.payload.count, slot.buffer.count - length)
        UnsafeMutableRawBufferPointer(rebasing: slot.buffer[length..<length + count])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: datagram.payload[0..<count]))
        length += count
        ring.send(slot, length: length, on: datagram.socket, to: datagram.source,
                  from: datagram.localAddress, interfaceIndex: datagram.interfaceIndex)
    }
}

/// A TCP listener on 127.0.0.1: with a file, each connection gets `header` from a send slot,
/// then the whole file with `sendFile`, then is closed. Without one it only listens.
final class TCPFileHandler: RingHandler, @unchecked Sendable {
    static let header = "RACKPLANE 5MiB\r\n"

    struct Observed {
        var port: UInt16 = 0
        var accepted = 0
        var received: [UInt8] = []
        var closed: [CloseReason] = []
        /// Each accepted connection's index, and the ring's connection table size then.
        var indices: [UInt32] = []
        var tableSize = 0
    }

    let path: String?
    let idleTimeoutMilliseconds: UInt64
    private let state = Mutex(Observed())
    // Ring-thread state.
    private var file: Int32 = -1
    private var fileSize: Int64 = 0
    private var sentFile = Set<ConnectionID>()

    init(path: String?, idleTimeoutMilliseconds: UInt64) throws {
        self.path = path
        self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
    }

    deinit { if file >= 0 { close(file) } }

    var port: UInt16 { state.withLock { $0.port } }
    var acceptedCount: Int { state.withLock { $0.accepted } }
    var receivedBytes: [UInt8] { state.withLock { $0.received } }
    var closedReasons: [CloseReason] { state.withLock { $0.closed } }
    var connectionIndices: [UInt32] { state.withLock { $0.indices } }
    var connectionTableSize: Int { state.withLock { $0.tableSize } }

    func started(ring: RingContext) throws {
        if let path {
            file = open(path, O_RDONLY | O_CLOEXEC)
            guard file >= 0 else { throw LoopbackError(call: "open", errno: errno) }
            fileSize = Int64(lseek(file, 0, SEEK_END))
        }
        let listener = try ring.listenTCP(TCPListenerOptions(bind: IPv4Endpoint(address: Loopback.address, port: 0),
                                                             idleTimeoutMilliseconds: idleTimeoutMilliseconds))
        let port = try ring.localEndpoint(of: listener).port
        state.withLock { $0.port = port }
    }

    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, listener: SocketID, ring: RingContext) {
        state.withLock {
            $0.accepted += 1
            $0.indices.append(connection.index)
            $0.tableSize = max($0.tableSize, ring.connections.count)
        }
        guard file >= 0, let slot = ring.allocateSlot() else { return }
        let header = Array(Self.header.utf8)
        slot.buffer.copyBytes(from: header)
        ring.send(slot, length: header.count, on: connection)
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {}

    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {
        state.withLock { $0.received.append(contentsOf: bytes) }
    }

    func sendCompleted(on connection: ConnectionID, ring: RingContext) {
        if sentFile.contains(connection) {
            ring.close(connection)
        } else {
            sentFile.insert(connection)
            ring.sendFile(file, offset: 0, length: fileSize, on: connection)
        }
    }

    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {
        sentFile.remove(connection)
        state.withLock { $0.closed.append(reason) }
    }
}

/// Echoes with the plainest send: no source address, no interface, nothing appended.
final class PlainEchoHandler: RingHandler, @unchecked Sendable {
    private let state = Mutex<UInt16>(0)
    var port: UInt16 { state.withLock { $0 } }

    func started(ring: RingContext) throws {
        let socket = try ring.openUDP(UDPSocketOptions(bind: IPv4Endpoint(address: Loopback.address, port: 0), packetInfo: false))
        let port = try ring.localEndpoint(of: socket).port
        state.withLock { $0 = port }
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        guard let slot = ring.allocateSlot() else { return }
        slot.buffer.copyMemory(from: datagram.payload)
        ring.send(slot, length: datagram.payload.count, on: datagram.socket, to: datagram.source)
    }
}

/// Both of the above on one ring.
final class CombinedHandler: RingHandler, @unchecked Sendable {
    let udp: UDPEchoHandler
    let tcp: TCPFileHandler

    init(udp: UDPEchoHandler, tcp: TCPFileHandler) {
        self.udp = udp
        self.tcp = tcp
    }

    func started(ring: RingContext) throws {
        try udp.started(ring: ring)
        try tcp.started(ring: ring)
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) { udp.received(datagram, ring: ring) }
    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, listener: SocketID, ring: RingContext) {
        tcp.accepted(connection, peer: peer, listener: listener, ring: ring)
    }
    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {
        tcp.received(bytes, on: connection, ring: ring)
    }
    func sendCompleted(on connection: ConnectionID, ring: RingContext) { tcp.sendCompleted(on: connection, ring: ring) }
    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {
        tcp.closed(connection, reason: reason, ring: ring)
    }
}

/// Sends with the less common paths: `appending extra` bytes, and whole Ethernet frames built
/// here and sent on lo through the ring's AF_PACKET socket.
final class RawSendHandler: RingHandler, @unchecked Sendable {
    static let extra = Array("bytes from elsewhere".utf8)

    static var canOpenPacketSocket: Bool {
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    private let state = Mutex<(port: UInt16, frameErrors: [String])>((0, []))
    private let extraBytes: UnsafeMutableRawBufferPointer
    private var loopbackIndex: Int32 = 0

    init() {
        extraBytes = .allocate(byteCount: Self.extra.count, alignment: 1)
        extraBytes.copyBytes(from: Self.extra)
    }

    deinit { extraBytes.deallocate() }

    var port: UInt16 { state.withLock { $0.port } }
    var frameErrors: [String] { state.withLock { $0.frameErrors } }

    func started(ring: RingContext) throws {
        loopbackIndex = NetworkInterfaces.index(of: "lo") ?? 1
        let socket = try ring.openUDP(UDPSocketOptions(bind: IPv4Endpoint(address: Loopback.address, port: 0)))
        let port = try ring.localEndpoint(of: socket).port
        state.withLock { $0.port = port }
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        guard let slot = ring.allocateSlot() else { return }
        if datagram.payload.elementsEqual("extra".utf8) {
            let head = Array("slot|".utf8)
            slot.buffer.copyBytes(from: head)
            ring.send(slot, length: head.count, on: datagram.socket, to: datagram.source,
                      appending: UnsafeRawBufferPointer(extraBytes))
            return
        }
        let length = Self.writeFrame(into: slot.buffer, payload: Array("framed".utf8),
                                     from: IPv4Endpoint(address: Loopback.address, port: port), to: datagram.source)
        do {
            // lo's hardware address is all zeros.
            try ring.sendFrame(slot, length: length, interfaceIndex: loopbackIndex, destinationMAC: 0)
        } catch {
            state.withLock { $0.frameErrors.append("\(error)") }
        }
    }

    /// Ethernet + IPv4 (with its header checksum) + UDP (checksum 0: none) + payload.
    static func writeFrame(into buffer: UnsafeMutableRawBufferPointer, payload: [UInt8],
                           from source: IPv4Endpoint, to destination: IPv4Endpoint) -> Int {
        var frame = [UInt8](repeating: 0, count: 12) + [0x08, 0x00]
        let ipLength = 20 + 8 + payload.count
        var ip: [UInt8] = [0x45, 0, UInt8(ipLength >> 8), UInt8(ipLength & 0xFF), 0, 0, 0x40, 0, 64, 17, 0, 0]
        for address in [source.address, destination.address] {
            ip += [UInt8(address >> 24), UInt8(address >> 16 & 0xFF), UInt8(address >> 8 & 0xFF), UInt8(address & 0xFF)]
        }
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[i]) << 8 | UInt32(ip[i + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xFF)
        let udpLength = 8 + payload.count
        let udp: [UInt8] = [UInt8(source.port >> 8), UInt8(source.port & 0xFF),
                            UInt8(destination.port >> 8), UInt8(destination.port & 0xFF),
                            UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0]
        frame += ip + udp + payload
        buffer.copyBytes(from: frame)
        return frame.count
    }
}

/// Whether the running kernel's release is at least major.minor.
func kernelAtLeast(_ major: Int, _ minor: Int) -> Bool {
    var name = utsname()
    guard uname(&name) == 0 else { return false }
    let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
    guard parts.count == 2 else { return false }
    return (parts[0], parts[1]) >= (major, minor)
}

/// On any datagram: `count` datagrams to its source through `sendSegmented`, each a 4-byte
/// header (0, 3, index) and a chunk filled with the index's low byte.
final class SegmentingHandler: RingHandler, @unchecked Sendable {
    let count: Int
    let chunk: Int
    let body: UnsafeMutableRawBufferPointer
    private let state = Mutex<UInt16?>(nil)

    init(count: Int, chunk: Int, lastChunk: Int) {
        self.count = count
        self.chunk = chunk
        body = .allocate(byteCount: (count - 1) * chunk + lastChunk, alignment: 16)
        for i in 0..<body.count { body[i] = UInt8(truncatingIfNeeded: i / chunk) }
    }

    deinit { body.deallocate() }

    var port: UInt16? { state.withLock { $0 } }

    func started(ring: RingContext) throws {
        let socket = try ring.openUDP(UDPSocketOptions(bind: IPv4Endpoint(address: Loopback.address, port: 0), packetInfo: false))
        let port = try ring.localEndpoint(of: socket).port
        state.withLock { $0 = port }
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        var sent = 0
        while sent < count {
            let limit = ring.segmentLimit(headerLength: 4, chunk: chunk)
            let n = min(limit, count - sent)
            guard let slot = ring.allocateSlot() else { return }
            for i in 0..<n {
                let index = sent + i
                slot.buffer[4 * i] = 0
                slot.buffer[4 * i + 1] = 3
                slot.buffer[4 * i + 2] = UInt8(index >> 8)
                slot.buffer[4 * i + 3] = UInt8(index & 0xFF)
            }
            let range = sent * chunk..<min(body.count, (sent + n) * chunk)
            ring.sendSegmented(slot, headerLength: 4, count: n, body: UnsafeRawBufferPointer(rebasing: body[range]), chunk: chunk,
                               on: datagram.socket, to: datagram.source)
            sent += n
        }
    }
}
