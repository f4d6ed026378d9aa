import Testing
@testable import Fleet
import Wire

/// Bytes a server would send, built with Wire's writers.
private func packet(_ body: (inout WireWriter) throws -> Void) rethrows -> [UInt8] {
    var storage = [UInt8](repeating: 0, count: 2048)
    return try storage.withUnsafeMutableBytes { buffer in
        var writer = WireWriter(buffer)
        try body(&writer)
        return Array(buffer[0..<writer.count])
    }
}

private func data(_ block: UInt16, _ count: Int) -> [UInt8] {
    packet { w in
        try! TFTPPacket.writeDataHeader(block: block, into: &w)
        try! w.writeZeros(count, "payload")
    }
}

/// Feeds `bytes` from `port` to the transfer; returns the step and the packet it asked to send.
private func feed(_ transfer: inout TFTPClientTransfer, _ bytes: [UInt8], port: UInt16 = 40000) -> (TFTPClientTransfer.Step, TFTPPacket.Kind?) {
    let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    defer { out.deallocate() }
    let step = bytes.withUnsafeBytes { transfer.receive($0, fromPort: port, output: out) }
    switch step {
    case .send(let length), .finished(let length):
        return (step, TFTPPacket.Kind(UnsafeRawBufferPointer(rebasing: out[0..<length])))
    default:
        return (step, nil)
    }
}

extension TFTPPacket {
    /// A comparable summary of a packet, for expectations.
    enum Kind: Equatable {
        case ack(UInt16), other
        init?(_ bytes: UnsafeRawBufferPointer) {
            guard let parsed = try? TFTPPacket.parse(bytes) else { return nil }
            if case .acknowledgement(let block) = parsed { self = .ack(block) } else { self = .other }
        }
    }
}

@Suite struct TFTPClientTransferTests {
    @Test func optionsAcknowledgedThenBlocksUntilAShortOne() throws {
        var t = TFTPClientTransfer(filename: "lpxelinux.0", blockSize: 1468, askSize: true)
        let request = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { request.deallocate() }
        let length = try t.writeRequest(into: request)
        guard case .readRequest(let rrq) = try TFTPPacket.parse(UnsafeRawBufferPointer(rebasing: request[0..<length])) else {
            Issue.record("not an RRQ")
            return
        }
        #expect(String(decoding: rrq.filename, as: UTF8.self) == "lpxelinux.0")
        #expect(try rrq.options.values() == TFTPOptionValues(blockSize: 1468, transferSize: 0))

        let oack = packet { try! TFTPPacket.writeOptionAcknowledgement(TFTPOptionValues(blockSize: 1024, transferSize: 2500), into: &$0) }
        #expect(feed(&t, oack).1 == .ack(0))
        #expect(t.blockSize == 1024 && t.announcedSize == 2500)
        #expect(feed(&t, data(1, 1024)).1 == .ack(1))
        #expect(feed(&t, data(1, 1024)).1 == .ack(1), "a repeated block is acknowledged again")
        #expect(feed(&t, data(3, 1024)).0 == .ignored, "a block from the future is ignored")
        #expect(feed(&t, data(2, 1024), port: 40001).0 == .ignored, "another transfer ID is ignored")
        #expect(feed(&t, data(2, 1024)).1 == .ack(2))
        let (step, ack) = feed(&t, data(3, 452))
        #expect(ack == .ack(3))
        guard case .finished = step else {
            Issue.record("not finished: \(step)")
            return
        }
        #expect(t.receivedBytes == 2500 && t.isFinished)
    }

    @Test func aServerIgnoringOptionsSends512ByteBlocks() {
        var t = TFTPClientTransfer(filename: "f", blockSize: 1468, askSize: true)
        #expect(feed(&t, data(1, 512)).1 == .ack(1))
        #expect(t.blockSize == 512)
        guard case .finished = feed(&t, data(2, 0)).0 else {
            Issue.record("an empty last block ends the transfer")
            return
        }
        #expect(t.receivedBytes == 512)
    }

    @Test func errorsAndBadOptionsFailTheTransfer() {
        var missing = TFTPClientTransfer(filename: "nope", blockSize: nil, askSize: false)
        let error = packet { try! TFTPPacket.writeError(.fileNotFound, message: "no such file", into: &$0) }
        guard case .failed(let reason, let detail) = feed(&missing, error).0 else {
            Issue.record("an ERROR fails the transfer")
            return
        }
        #expect(reason == "error 1" && detail.contains("no such file"))

        var larger = TFTPClientTransfer(filename: "f", blockSize: 512, askSize: false)
        let oack = packet { try! TFTPPacket.writeOptionAcknowledgement(TFTPOptionValues(blockSize: 1024), into: &$0) }
        guard case .failed(let why, _) = feed(&larger, oack).0 else {
            Issue.record("a larger blksize than asked is refused")
            return
        }
        #expect(why == "bad oack")

        var short = TFTPClientTransfer(filename: "f", blockSize: 512, askSize: true)
        _ = feed(&short, packet { try! TFTPPacket.writeOptionAcknowledgement(TFTPOptionValues(blockSize: 512, transferSize: 9999), into: &$0) })
        guard case .failed(let mismatch, _) = feed(&short, data(1, 10)).0 else {
            Issue.record("fewer bytes than tsize announced is a failure")
            return
        }
        #expect(mismatch == "size mismatch")
    }

    @Test func retransmissionIsTheRequestThenTheLastAck() throws {
        var t = TFTPClientTransfer(filename: "f", blockSize: 512, askSize: false)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { out.deallocate() }
        var n = try t.writeRetransmission(into: out)
        guard case .readRequest = try TFTPPacket.parse(UnsafeRawBufferPointer(rebasing: out[0..<n])) else {
            Issue.record("before any answer the RRQ goes again")
            return
        }
        _ = feed(&t, packet { try! TFTPPacket.writeOptionAcknowledgement(TFTPOptionValues(blockSize: 512), into: &$0) })
        _ = feed(&t, data(1, 512))
        n = try t.writeRetransmission(into: out)
        #expect(TFTPPacket.Kind(UnsafeRawBufferPointer(rebasing: out[0..<n])) == .ack(1))
    }
}

/// Feeds a response to an exchange in pieces of `chunk` bytes; bodies are counted by length.
private func respond(_ exchange: inout HTTPClientExchange, _ text: String, chunk: Int) -> [HTTPClientExchange.Progress] {
    var results: [HTTPClientExchange.Progress] = []
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        let piece = Array(bytes[offset..<end])
        let progress: HTTPClientExchange.Progress
        if case .body = exchange.phase {
            progress = exchange.receiveBody(count: piece.count)
        } else {
            progress = piece.withUnsafeBytes { exchange.receiveHead($0) }
        }
        results.append(progress)
        offset = end
        if case .responseComplete = progress { break }
        if case .failed = progress { break }
    }
    return results
}

@Suite struct HTTPClientExchangeTests {
    @Test func twoFilesOnOneKeepAliveConnection() throws {
        var e = HTTPClientExchange(host: "198.18.0.1:5248", paths: ["images/vmlinuz", "/images/initrd.gz"])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
        defer { buffer.deallocate() }
        let n = try e.writeRequest(into: buffer)
        guard case .complete(let head) = try HTTPRequestHead.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) else {
            Issue.record("the request does not parse")
            return
        }
        #expect(String(decoding: head.target, as: UTF8.self) == "/images/vmlinuz")
        #expect(try head.host().map { String(decoding: $0, as: UTF8.self) } == "198.18.0.1:5248")
        let first = respond(&e, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", chunk: 7)
        #expect(first.last == .responseComplete(reconnect: false))
        #expect(e.bodyBytes == 10 && !e.isDone && e.currentPath == "/images/initrd.gz")
        _ = try e.writeRequest(into: buffer)
        let second = respond(&e, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc", chunk: 100)
        #expect(second.last == .responseComplete(reconnect: false))
        #expect(e.isDone && e.bodyBytes == 13)
    }

    @Test func aServerThatClosesMeansANewConnectionForTheNextFile() throws {
        var e = HTTPClientExchange(host: "h", paths: ["a", "b"])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
        defer { buffer.deallocate() }
        _ = try e.writeRequest(into: buffer)
        #expect(respond(&e, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", chunk: 5).last == .responseComplete(reconnect: true))
        _ = try e.writeRequest(into: buffer)
        // A body delimited by the close: counted until the connection ends.
        #expect(respond(&e, "HTTP/1.0 200 OK\r\n\r\nxyz", chunk: 50).last == .body(remaining: nil))
        #expect(e.connectionClosed() == .responseComplete(reconnect: false))
        #expect(e.isDone && e.bodyBytes == 4)
    }

    @Test func errorsFailABootLoaderButAnswerAReplay() throws {
        var boot = HTTPClientExchange(host: "h", paths: ["missing"])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
        defer { buffer.deallocate() }
        _ = try boot.writeRequest(into: buffer)
        guard case .failed(let reason, _) = respond(&boot, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", chunk: 9).last else {
            Issue.record("404 fails a boot")
            return
        }
        #expect(reason == "status 404")
        var replay = HTTPClientExchange(host: "h", paths: ["missing"])
        replay.requireOK = false
        replay.expectResponse()
        #expect(respond(&replay, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno", chunk: 9).last == .responseComplete(reconnect: false))
        #expect(replay.lastStatus == 404)
        var garbage = HTTPClientExchange(host: "h", paths: ["x"])
        _ = try garbage.writeRequest(into: buffer)
        guard case .failed(let bad, _) = respond(&garbage, "SSH-2.0-OpenSSH\r\n", chunk: 100).last else {
            Issue.record("not HTTP")
            return
        }
        #expect(bad == "bad response")
        var early = HTTPClientExchange(host: "h", paths: ["x"])
        _ = try early.writeRequest(into: buffer)
        _ = respond(&early, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", chunk: 100)
        guard case .failed(let closed, _) = early.connectionClosed() else {
            Issue.record("a short body is a failure")
            return
        }
        #expect(closed == "closed")
    }

    @Test func aPathThatWouldSplitTheRequestIsRefused() {
        var e = HTTPClientExchange(host: "h", paths: ["a b"])
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
        defer { buffer.deallocate() }
        #expect(throws: WireError.self) { try e.writeRequest(into: buffer) }
    }
}

@Suite struct DNSLookupTests {
    @Test func theQueryParsesAndTheAnswerIsRead() throws {
        let lookup = DNSLookup(name: "lg-000001.maas.test", id: 0xBEEF)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 8)
        defer { buffer.deallocate() }
        let n = try lookup.writeQuery(into: buffer)
        let query = try DNSMessage(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        #expect(query.header.id == 0xBEEF && query.header.rd && !query.header.qr)
        #expect(query.question?.type == .a)

        // The response: the query's header and question with QR set, then one A record.
        var response = Array(buffer[0..<n])
        response[2] |= 0x80
        response[7] = 1
        response += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 19, 0, 10]
        #expect(response.withUnsafeBytes { lookup.read($0) } == .answered([IPv4Address(198, 19, 0, 10)]))
        var nxdomain = Array(buffer[0..<n])
        nxdomain[2] |= 0x80
        nxdomain[3] = 3
        #expect(nxdomain.withUnsafeBytes { lookup.read($0) } == .refused(rcode: 3))
        var other = nxdomain
        other[0] = 0
        #expect(other.withUnsafeBytes { lookup.read($0) } == .ignored)
        var truncated = Array(buffer[0..<n])
        truncated[2] |= 0x82
        #expect(truncated.withUnsafeBytes { lookup.read($0) } == .truncated)
    }
}

@Suite struct LoadReportTests {
    @Test func numbersAndDurationsReadWell() {
        #expect(LoadReport.format(0.01234) == "0.012")
        #expect(LoadReport.format(1.5) == "1.50")
        #expect(LoadReport.format(12.345) == "12.3")
        #expect(LoadReport.format(1234.5) == "1235")
        #expect(LoadReport.duration(microseconds: 850) == "850 µs")
        #expect(LoadReport.duration(microseconds: 1_200) == "1.20 ms")
        #expect(LoadReport.duration(microseconds: 2_500_000) == "2.50 s")
        #expect(LoadReport.bytes(100 * 1024) == "100 KiB")
        #expect(LoadRun.httpPath(ofURL: "http://198.18.0.1:5248/ipxe.cfg") == "/ipxe.cfg")
        #expect(LoadRun.httpPath(ofURL: "lpxelinux.0") == nil)
    }

    @Test func theJSONSummaryHasItsKeys() {
        var s = LoadStatistics()
        s.requested = 3
        s.started = 3
        s.booted = 2
        s.failed = 1
        s.stages[.dhcp]!.recordSuccess(microseconds: 1500)
        s.stages[.tftp]!.failures["timeout"] = 1
        let plan = LoadPlan(server: IPv4Address(198, 18, 0, 1))
        let json = LoadReport.json(s, plan: plan)
        #expect(json.hasPrefix("{\"requested\":3,\"started\":3,\"booted\":2,\"failed\":1,\"not_started\":0,"))
        #expect(json.contains("\"tftp\":{\"ok\":0,\"failed\":1,\"skipped\":0,\"operations\":0,\"restarts\":0,\"bytes\":0,\"failures\":{\"timeout\":1}"))
        #expect(json.contains("\"latency_ms\":{\"p50\":1.5"))
    }
}
