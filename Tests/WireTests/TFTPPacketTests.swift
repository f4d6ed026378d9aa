import Testing
@testable import Wire

private func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.utf8.makeIterator()
    while let hi = it.next(), let lo = it.next() {
        out.append(UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16)!)
    }
    return out
}

private func text(_ view: UnsafeRawBufferPointer) -> String { String(decoding: view, as: UTF8.self) }

/// Builds a packet from an opcode and pieces, each string piece followed by a NUL unless it is
/// given as raw bytes.
private func packet(_ opcode: UInt16, _ strings: [String], nul: Bool = true) -> [UInt8] {
    var b: [UInt8] = [UInt8(opcode >> 8), UInt8(opcode & 0xFF)]
    for s in strings {
        b += Array(s.utf8)
        if nul { b.append(0) }
    }
    return b
}

private func parseError(_ bytes: [UInt8]) -> WireError? {
    bytes.withUnsafeBytes { raw in
        do throws(WireError) {
            _ = try TFTPPacket.parse(raw)
            return nil
        } catch {
            return error
        }
    }
}

/// Parses a request and returns its options' typed values (or the error).
private func optionValues(_ options: [String]) -> Result<TFTPOptionValues, WireError> {
    let b = packet(1, ["f", "octet"] + options)
    return b.withUnsafeBytes { raw in
        do throws(WireError) {
            guard case .readRequest(let rq) = try TFTPPacket.parse(raw) else { Issue.record("not RRQ"); return .success(.init()) }
            return .success(try rq.options.values())
        } catch {
            return .failure(error)
        }
    }
}

private func written(capacity: Int = 1500, _ body: (inout WireWriter) throws(WireError) -> Void) throws(WireError) -> [UInt8] {
    var storage = [UInt8](repeating: 0xEE, count: capacity)
    let result = storage.withUnsafeMutableBytes { buffer -> Result<[UInt8], WireError> in
        var writer = WireWriter(buffer)
        do throws(WireError) {
            try body(&writer)
        } catch {
            return .failure(error)
        }
        return .success(Array(writer.written))
    }
    return try result.get()
}

@Suite struct TFTPPacketTests {
    // MARK: Real captures

    @Test func rrqFromTcpdumpCapture() throws {
        // tcpdump/tftp.pcap frame 1: RRQ file1 octet, no options.
        try hexBytes("000166696c6531006f6374657400").withUnsafeBytes { raw in
            let p = try TFTPPacket.parse(raw)
            guard case .readRequest(let rq) = p else { Issue.record("\(p)"); return }
            #expect(p.opcode == .readRequest)
            #expect(text(rq.filename) == "file1")
            #expect(rq.mode == .octet)
            #expect(text(rq.modeBytes) == "octet")
            #expect(rq.options.isEmpty)
            #expect(Array(rq.options).isEmpty)
            #expect(try rq.options.values() == TFTPOptionValues())
        }
    }

    @Test func pxelinuxRRQWithOptions() throws {
        // pxe/pxelinux-boot.pcap frame 31.
        try hexBytes("00017078656c696e75782e30006f6374657400626c6b73697a650031343332007473697a65003000").withUnsafeBytes { raw in
            guard case .readRequest(let rq) = try TFTPPacket.parse(raw) else { Issue.record("not RRQ"); return }
            #expect(text(rq.filename) == "pxelinux.0")
            #expect(rq.mode == .octet)
            let pairs = rq.options.map { (text($0.name), text($0.value)) }
            #expect(pairs.map(\.0) == ["blksize", "tsize"])
            #expect(pairs.map(\.1) == ["1432", "0"])
            #expect(try rq.options.blockSize() == 1432)
            #expect(try rq.options.transferSize() == 0)
            #expect(try rq.options.timeout() == nil)
            #expect(try rq.options.windowSize() == nil)
        }
    }

    @Test func pxelinuxRRQOptionsInOtherOrder() throws {
        // pxe/pxelinux-boot.pcap frame 61: tsize before blksize, longer filename.
        let hex = "00017078656c696e75782e6366672f30312d35322d35342d30302d31382d30302d3031006f63746574007473697a65003000626c6b73697a65003134303800"
        try hexBytes(hex).withUnsafeBytes { raw in
            guard case .readRequest(let rq) = try TFTPPacket.parse(raw) else { Issue.record("not RRQ"); return }
            #expect(text(rq.filename) == "pxelinux.cfg/01-52-54-00-18-00-01")
            #expect(try rq.options.values() == TFTPOptionValues(blockSize: 1408, transferSize: 0))
        }
    }

    @Test func oackFromCaptureRoundTrips() throws {
        // pxe/pxelinux-boot.pcap frame 32: OACK blksize=1432 tsize=42430.
        let golden = hexBytes("0006626c6b73697a650031343332007473697a6500343234333000")
        try golden.withUnsafeBytes { raw in
            guard case .optionAcknowledgement(let options) = try TFTPPacket.parse(raw) else { Issue.record("not OACK"); return }
            #expect(try options.values() == TFTPOptionValues(blockSize: 1432, transferSize: 42430))
        }
        let out = try written { w throws(WireError) in
            try TFTPPacket.writeOptionAcknowledgement(TFTPOptionValues(blockSize: 1432, transferSize: 42430), into: &w)
        }
        #expect(out == golden)
    }

    @Test func errorFromCaptureRoundTrips() throws {
        // pxe/pxelinux-boot.pcap frame 64: ERROR 1 "file ... not found for 198.18.0.155".
        let golden = hexBytes("0005000166696c65202f746d702f7078652f626f6f742f7078656c696e75782e6366672f4336313230303942206e6f7420666f756e6420666f72203139382e31382e302e31353500")
        let message = "file /tmp/pxe/boot/pxelinux.cfg/C612009B not found for 198.18.0.155"
        try golden.withUnsafeBytes { raw in
            guard case .error(let e) = try TFTPPacket.parse(raw) else { Issue.record("not ERROR"); return }
            #expect(e.code == 1)
            #expect(e.knownCode == .fileNotFound)
            #expect(text(e.message) == message)
        }
        let out = try Array(message.utf8).withUnsafeBytes { m in
            try written { w throws(WireError) in try TFTPPacket.writeError(.fileNotFound, message: m, into: &w) }
        }
        #expect(out == golden)
    }

    @Test func dataAndAckFromCaptureRoundTrip() throws {
        // tcpdump/tftp.pcap frame 6 (last DATA block, 93-byte payload) and frame 7 (ACK 3).
        let data = hexBytes("000300037570706f7274656422203e26320a096578697420330a093b3b0a202073746f70290a09646f5f73746f700a093b3b0a20202a290a096563686f202255736167653a2024302073746172747c73746f7022203e26320a096578697420330a093b3b0a657361630a0a3a0a")
        try data.withUnsafeBytes { raw in
            guard case .data(let d) = try TFTPPacket.parse(raw) else { Issue.record("not DATA"); return }
            #expect(d.block == 3)
            #expect(d.payload.count == data.count - 4)
            #expect(text(d.payload).hasPrefix("upported\""))
            let header = try written { w throws(WireError) in try TFTPPacket.writeDataHeader(block: d.block, into: &w) }
            #expect(header + Array(d.payload) == data)
        }
        let ack = hexBytes("00040003")
        try ack.withUnsafeBytes { raw in
            guard case .acknowledgement(let block) = try TFTPPacket.parse(raw) else { Issue.record("not ACK"); return }
            #expect(block == 3)
        }
        #expect(try written { w throws(WireError) in try TFTPPacket.writeAcknowledgement(block: 3, into: &w) } == ack)
    }

    @Test func heapOverflowCaptureIsRefused() {
        // tcpdump/tftp-heapoverflow.pcap: RRQ "00" with no NUL anywhere.
        #expect(parseError(hexBytes("00013030")) == WireError(.truncated, "tftp.rrq.filename", at: 2))
    }

    // MARK: Header edges

    @Test func truncatedAndUnknownOpcodes() {
        #expect(parseError([]) == WireError(.truncated, "tftp.opcode", at: 0))
        #expect(parseError([0]) == WireError(.truncated, "tftp.opcode", at: 0))
        #expect(parseError([0, 0]) == WireError(.invalidValue, "tftp.opcode", at: 0))
        #expect(parseError([0, 7, 0, 0]) == WireError(.invalidValue, "tftp.opcode", at: 0))
        #expect(parseError([0xFF, 0x01]) == WireError(.invalidValue, "tftp.opcode", at: 0))
    }

    @Test func blockNumbers() throws {
        #expect(parseError([0, 3, 0]) == WireError(.truncated, "tftp.data.block", at: 2))
        #expect(parseError([0, 4, 0]) == WireError(.truncated, "tftp.ack.block", at: 2))
        #expect(parseError([0, 4]) == WireError(.truncated, "tftp.ack.block", at: 2))
        // An ACK is exactly four bytes.
        #expect(parseError([0, 4, 0, 1, 0]) == WireError(.invalidLength, "tftp.ack", at: 4))
        // Highest block, and 0 (rollover or ACK of WRQ/OACK) are valid to parse.
        try [UInt8]([0, 4, 0xFF, 0xFF]).withUnsafeBytes { raw in
            guard case .acknowledgement(let block) = try TFTPPacket.parse(raw) else { Issue.record("not ACK"); return }
            #expect(block == 65535)
        }
        try [UInt8]([0, 3, 0, 0]).withUnsafeBytes { raw in
            guard case .data(let d) = try TFTPPacket.parse(raw) else { Issue.record("not DATA"); return }
            #expect(d.block == 0)
            #expect(d.payload.isEmpty)
        }
    }

    // MARK: Strings

    @Test func missingNULs() {
        #expect(parseError(packet(1, ["file"], nul: false)) == WireError(.truncated, "tftp.rrq.filename", at: 2))
        #expect(parseError(packet(2, ["file"], nul: false)) == WireError(.truncated, "tftp.wrq.filename", at: 2))
        #expect(parseError(packet(1, ["file"])) == WireError(.truncated, "tftp.rrq.mode", at: 7))
        #expect(parseError(packet(1, ["file"]) + Array("octet".utf8)) == WireError(.truncated, "tftp.rrq.mode", at: 7))
        // Option name with no value, value with no NUL.
        #expect(parseError(packet(1, ["f", "octet", "blksize"])) == WireError(.truncated, "tftp.option.value", at: 18))
        #expect(parseError(packet(1, ["f", "octet", "blksize"]) + [0x31]) == WireError(.truncated, "tftp.option.value", at: 18))
        #expect(parseError(packet(1, ["f", "octet"]) + Array("blks".utf8)) == WireError(.truncated, "tftp.option.name", at: 10))
        #expect(parseError(packet(5, []) + [0, 1]) == WireError(.truncated, "tftp.error.message", at: 4))
        #expect(parseError(packet(5, []) + [0, 1, 0x41]) == WireError(.truncated, "tftp.error.message", at: 4))
        #expect(parseError(packet(5, []) + [0]) == WireError(.truncated, "tftp.error.code", at: 2))
        #expect(parseError(packet(6, ["blksize"])) == WireError(.truncated, "tftp.option.value", at: 10))
    }

    @Test func modesIgnoreCase() throws {
        for (name, mode) in [("octet", TFTPMode.octet), ("OCTET", .octet), ("NetAscii", .netascii), ("mail", .mail), ("MAIL", .mail)] {
            try packet(1, ["f", name]).withUnsafeBytes { raw in
                guard case .readRequest(let rq) = try TFTPPacket.parse(raw) else { Issue.record("not RRQ"); return }
                #expect(rq.mode == mode)
                #expect(text(rq.modeBytes) == name)
            }
        }
        #expect(parseError(packet(1, ["f", "binary"])) == WireError(.invalidValue, "tftp.rrq.mode", at: 4))
        #expect(parseError(packet(2, ["f", ""])) == WireError(.invalidValue, "tftp.wrq.mode", at: 4))
        #expect(parseError(packet(1, ["f", "octets"])) == WireError(.invalidValue, "tftp.rrq.mode", at: 4))
    }

    @Test func emptyFilenameAndErrorMessageParse() throws {
        try packet(1, ["", "octet"]).withUnsafeBytes { raw in
            guard case .readRequest(let rq) = try TFTPPacket.parse(raw) else { Issue.record("not RRQ"); return }
            #expect(rq.filename.isEmpty)
        }
        try ([0, 5, 0, 9, 0] as [UInt8]).withUnsafeBytes { raw in
            guard case .error(let e) = try TFTPPacket.parse(raw) else { Issue.record("not ERROR"); return }
            #expect(e.code == 9)
            #expect(e.knownCode == nil)
            #expect(e.message.isEmpty)
        }
        // Bytes after the message's NUL are not part of any ERROR.
        #expect(parseError([0, 5, 0, 1, 0x41, 0, 0x42]) == WireError(.invalidLength, "tftp.error", at: 6))
    }

    @Test func writeRequestIsParsedAsWriteRequest() throws {
        let out = try written { w throws(WireError) in
            try TFTPPacket.writeWriteRequest(filename: "up.bin".utf8, mode: .netascii, into: &w)
        }
        #expect(out == packet(2, ["up.bin", "netascii"]))
        try out.withUnsafeBytes { raw in
            guard case .writeRequest(let rq) = try TFTPPacket.parse(raw) else { Issue.record("not WRQ"); return }
            #expect(rq.opcode == .writeRequest)
            #expect(rq.mode == .netascii)
        }
    }

    // MARK: Options

    @Test func optionRanges() {
        #expect((try? optionValues(["blksize", "8"]).get()) == TFTPOptionValues(blockSize: 8))
        #expect((try? optionValues(["blksize", "65464"]).get()) == TFTPOptionValues(blockSize: 65464))
        #expect(optionValues(["blksize", "7"]).failure == WireError(.invalidValue, "tftp.option.blksize", at: 18))
        #expect(optionValues(["blksize", "65465"]).failure == WireError(.invalidValue, "tftp.option.blksize", at: 18))
        #expect((try? optionValues(["timeout", "1"]).get()) == TFTPOptionValues(timeout: 1))
        #expect((try? optionValues(["timeout", "255"]).get()) == TFTPOptionValues(timeout: 255))
        #expect(optionValues(["timeout", "0"]).failure == WireError(.invalidValue, "tftp.option.timeout", at: 18))
        #expect(optionValues(["timeout", "256"]).failure == WireError(.invalidValue, "tftp.option.timeout", at: 18))
        #expect((try? optionValues(["windowsize", "1"]).get()) == TFTPOptionValues(windowSize: 1))
        #expect((try? optionValues(["windowsize", "65535"]).get()) == TFTPOptionValues(windowSize: 65535))
        #expect(optionValues(["windowsize", "0"]).failure == WireError(.invalidValue, "tftp.option.windowsize", at: 21))
        #expect(optionValues(["windowsize", "65536"]).failure == WireError(.invalidValue, "tftp.option.windowsize", at: 21))
        #expect((try? optionValues(["tsize", "0"]).get()) == TFTPOptionValues(transferSize: 0))
        #expect((try? optionValues(["tsize", "18446744073709551615"]).get()) == TFTPOptionValues(transferSize: .max))
        #expect(optionValues(["tsize", "18446744073709551616"]).failure == WireError(.invalidValue, "tftp.option.tsize", at: 16))
        for bad in ["", "-1", "+1", " 512", "512 ", "0x200", "12a"] {
            #expect(optionValues(["blksize", bad]).failure?.field.description == "tftp.option.blksize", "\(bad)")
        }
    }

    @Test func optionNamesIgnoreCaseFirstWinsUnknownIgnored() {
        #expect((try? optionValues(["BlkSize", "1024", "TSIZE", "77"]).get()) == TFTPOptionValues(blockSize: 1024, transferSize: 77))
        #expect((try? optionValues(["blksize", "1024", "blksize", "2048"]).get()) == TFTPOptionValues(blockSize: 1024))
        // Unknown options, empty names and values, and odd values of them are not errors.
        #expect((try? optionValues(["multicast", "", "", "", "rollover", "x", "windowsize", "4"]).get()) == TFTPOptionValues(windowSize: 4))
    }

    @Test func requestRoundTripWithAllOptions() throws {
        let values = TFTPOptionValues(blockSize: 1468, transferSize: 0, timeout: 3, windowSize: 16)
        let out = try written { w throws(WireError) in
            try TFTPPacket.writeReadRequest(filename: "ipxe/undionly.kpxe".utf8, options: values, into: &w)
        }
        #expect(out == packet(1, ["ipxe/undionly.kpxe", "octet", "blksize", "1468", "tsize", "0", "timeout", "3", "windowsize", "16"]))
        try out.withUnsafeBytes { raw in
            guard case .readRequest(let rq) = try TFTPPacket.parse(raw) else { Issue.record("not RRQ"); return }
            #expect(text(rq.filename) == "ipxe/undionly.kpxe")
            #expect(try rq.options.values() == values)
        }
    }

    @Test func oackRoundTripWithAllOptions() throws {
        let values = TFTPOptionValues(blockSize: 8, transferSize: .max, timeout: 255, windowSize: 65535)
        let out = try written { w throws(WireError) in try TFTPPacket.writeOptionAcknowledgement(values, into: &w) }
        try out.withUnsafeBytes { raw in
            guard case .optionAcknowledgement(let options) = try TFTPPacket.parse(raw) else { Issue.record("not OACK"); return }
            #expect(try options.values() == values)
        }
    }

    // MARK: Writer edges

    @Test func writersRespectBufferEnd() throws {
        // ACK: four bytes fit in four, not in three.
        #expect(try written(capacity: 4) { w throws(WireError) in try TFTPPacket.writeAcknowledgement(block: 1, into: &w) } == [0, 4, 0, 1])
        #expect(throws: WireError(.noSpace, "tftp.ack", at: 0)) {
            _ = try written(capacity: 3) { w throws(WireError) in try TFTPPacket.writeAcknowledgement(block: 1, into: &w) }
        }
        #expect(throws: WireError(.noSpace, "tftp.data", at: 0)) {
            _ = try written(capacity: 3) { w throws(WireError) in try TFTPPacket.writeDataHeader(block: 1, into: &w) }
        }
        // ERROR "x": 2 + 2 + 1 + 1 = 6 bytes.
        #expect(try written(capacity: 6) { w throws(WireError) in try TFTPPacket.writeError(.diskFull, message: "x", into: &w) } == [0, 5, 0, 3, 0x78, 0])
        #expect(throws: WireError(.noSpace, "tftp.error", at: 0)) {
            _ = try written(capacity: 5) { w throws(WireError) in try TFTPPacket.writeError(.diskFull, message: "x", into: &w) }
        }
        // A failed OACK or RRQ leaves the writer where it was.
        var storage = [UInt8](repeating: 0, count: 20)
        storage.withUnsafeMutableBytes { buffer in
            var w = WireWriter(buffer)
            #expect(throws: WireError.self) {
                try TFTPPacket.writeOptionAcknowledgement(TFTPOptionValues(blockSize: 1432, transferSize: 123_456_789), into: &w)
            }
            #expect(w.count == 0)
            #expect(throws: WireError.self) {
                try TFTPPacket.writeReadRequest(filename: "a-long-file-name".utf8, into: &w)
            }
            #expect(w.count == 0)
        }
    }

    @Test func writersRefuseWhatCannotBeParsed() {
        #expect(throws: WireError(.invalidValue, "tftp.request.filename", at: 3)) {
            _ = try written { w throws(WireError) in try TFTPPacket.writeReadRequest(filename: [0x61, 0, 0x62], into: &w) }
        }
        #expect(throws: WireError(.invalidValue, "tftp.error.message", at: 5)) {
            _ = try [UInt8]([0x61, 0]).withUnsafeBytes { m in
                try written { w throws(WireError) in try TFTPPacket.writeError(.notDefined, message: m, into: &w) }
            }
        }
        #expect(throws: WireError(.invalidValue, "tftp.option.blksize", at: 2)) {
            _ = try written { w throws(WireError) in try TFTPPacket.writeOptionAcknowledgement(TFTPOptionValues(blockSize: 7), into: &w) }
        }
        #expect(throws: WireError(.invalidValue, "tftp.option.timeout", at: 2)) {
            _ = try written { w throws(WireError) in try TFTPPacket.writeOptionAcknowledgement(TFTPOptionValues(timeout: 0), into: &w) }
        }
    }

    @Test func errorCodesAreTheStandardOnes() {
        #expect(TFTPErrorCode.allCases.map(\.rawValue) == Array(0...8))
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
