import Testing
@testable import Wire

/// Wire-form names for writer tests, kept alive until the arena goes.
final class DNSNameArena {
    private var buffers: [UnsafeMutableRawBufferPointer] = []

    func name(_ text: String) throws -> DNSName {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 1)
        buffers.append(buffer)
        var writer = WireWriter(buffer)
        let length = try DNSName.write(text: text, to: &writer)
        return try DNSName(wire: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
    }

    deinit { buffers.forEach { $0.deallocate() } }
}

/// Runs `body` with a writer over a buffer of `size` bytes limited to `limit`.
private func withWriter<T>(size: Int = 1024, limit: Int? = nil, header: DNSHeader, _ body: (inout DNSMessageWriter) throws -> T) throws -> T {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
    defer { buffer.deallocate() }
    var writer = try DNSMessageWriter(buffer, header: header, limit: limit)
    return try body(&writer)
}

private let responseHeader = DNSHeader(id: 0x1234, flags: 0x8580)
private let cookie: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]

/// The golden response: A for www.maas.test, NS for maas.test, OPT with a cookie.
private func writeGolden(_ writer: inout DNSMessageWriter, _ arena: DNSNameArena) throws {
    try writer.writeQuestion(arena.name("www.maas.test"), type: .a)
    try writer.writeRecord(.answer, name: arena.name("www.maas.test"), ttl: 60, data: .a(IPv4Address(198, 18, 0, 1)))
    try writer.writeRecord(.answer, name: arena.name("MAAS.test"), ttl: 60, data: .ns(arena.name("ns1.maas.test")))
    try writer.writeOPT(udpPayloadSize: 1232)
    try cookie.withUnsafeBytes { try writer.appendEDNSOption(code: 10, data: $0) }
}

private let golden = bytes(hex: """
    123485800001000200000001\
    03777777046d6161730474657374000001 0001\
    c00c00010001 0000003c0004c6120001\
    04 4d414153 c01500020001 0000003c0006036e7331c010\
    00 0029 04d0 00000000 000c 000a 0008 0102030405060708
    """)

@Suite struct DNSMessageWriterTests {
    @Test func goldenResponse() throws {
        let arena = DNSNameArena()
        let written = try withWriter(header: responseHeader) { writer in
            try writeGolden(&writer, arena)
            return Array(writer.written)
        }
        #expect(hexString(written) == hexString(golden))
        // And it reads back.
        #expect(try dnsRecords(written).map(\.description) == [
            "answer www.maas.test 1 60 198.18.0.1",
            "answer MAAS.test 2 60 ns1.maas.test",
            "additional <Root> 41 0 udp 1232 rcode 0 version 0 do 0 options 10",
        ])
    }

    @Test func compressionPreservesCaseAndFindsTheLongestSuffix() throws {
        // "MAAS.test" must not point at "maas.test" (case would change), only at "test".
        #expect(golden[47...52] == [0x04, 0x4D, 0x41, 0x41, 0x53, 0xC0])
        #expect(golden[53] == 0x15)
        // "ns1.maas.test" points at "maas.test" at 16, the longest match.
        #expect(golden[68...69] == [0xC0, 0x10])
    }

    @Test func lastRecordThatFitsAndFirstThatDoesNot() throws {
        let arena = DNSNameArena()
        // Exactly the golden size fits.
        _ = try withWriter(limit: golden.count, header: responseHeader) { writer in try writeGolden(&writer, arena) }
        // One byte less: the cookie does not fit; the OPT before it stays, whole.
        try withWriter(limit: golden.count - 1, header: responseHeader) { writer in
            #expect(throws: WireError(.noSpace, "dns.opt.option", at: 81)) { try writeGolden(&writer, arena) }
            #expect(writer.count == 81)
            #expect(writer.header.additionalCount == 1)
            let records = try dnsRecords(Array(writer.written))
            #expect(records.count == 3)
        }
        // Room for the answers but not the OPT: the message ends after the answers.
        try withWriter(limit: 80, header: responseHeader) { writer in
            #expect(throws: WireError.self) { try writeGolden(&writer, arena) }
            #expect(writer.count == 70)
            #expect(writer.header.additionalCount == 0)
            #expect(Array(writer.written[10..<12]) == [0, 0])
        }
        // The second answer's RDATA is one byte short: the record is dropped whole.
        try withWriter(limit: 69, header: responseHeader) { writer in
            #expect(throws: WireError(.noSpace, "dns.name", at: 68)) { try writeGolden(&writer, arena) }
            #expect(writer.count == 47)
            #expect(writer.header.answerCount == 1)
            let records = try dnsRecords(Array(writer.written))
            #expect(records.count == 1)
        }
    }

    @Test func headerAloneMustFit() {
        #expect(throws: WireError(.noSpace, "dns.header", at: 0)) {
            try withWriter(limit: 11, header: responseHeader) { _ in }
        }
    }

    @Test func sectionsGoInOrder() throws {
        let arena = DNSNameArena()
        try withWriter(header: responseHeader) { writer in
            try writer.writeRecord(.authority, name: arena.name("maas.test"), ttl: 1, data: .ns(arena.name("ns1.maas.test")))
            #expect(throws: WireError(.invalidValue, "dns.writer.section", at: writer.count)) {
                try writer.writeRecord(.answer, name: arena.name("maas.test"), ttl: 1, data: .a(IPv4Address(1, 2, 3, 4)))
            }
            #expect(throws: WireError.self) { try writer.writeQuestion(arena.name("maas.test"), type: .a) }
        }
    }

    @Test func ednsOptionOnlyRightAfterOPT() throws {
        let arena = DNSNameArena()
        try withWriter(header: responseHeader) { writer in
            #expect(throws: WireError(.invalidValue, "dns.opt.option", at: 12)) {
                try cookie.withUnsafeBytes { try writer.appendEDNSOption(code: 10, data: $0) }
            }
            try writer.writeOPT(udpPayloadSize: 512, extendedRCode: 1, version: 0, dnssecOK: true)
            try writer.writeRecord(.additional, name: arena.name("x"), ttl: 0, data: .a(IPv4Address(1, 1, 1, 1)))
            #expect(throws: WireError.self) { try cookie.withUnsafeBytes { try writer.appendEDNSOption(code: 10, data: $0) } }
            try Array(writer.written).withUnsafeBytes { buffer in
                let message = try DNSMessage(parsing: buffer)
                let opt = try #require(try message.edns())
                #expect(opt.dnssecOK && opt.extendedRCode == 1 && opt.udpPayloadSize == 512)
            }
        }
    }

    @Test func srvTargetIsNeverCompressed() throws {
        let arena = DNSNameArena()
        let written = try withWriter(header: responseHeader) { writer in
            try writer.writeQuestion(arena.name("_tftp._udp.maas.test"), type: .srv)
            let target = try arena.name("maas.test")
            try writer.writeRecord(.answer, name: arena.name("_tftp._udp.maas.test"), ttl: 5,
                                   data: .srv(DNSSRV(priority: 0, weight: 5, port: 69, target: target)))
            // A later name may still point at the question, not into the SRV target.
            try writer.writeRecord(.answer, name: target, ttl: 5, data: .a(IPv4Address(198, 18, 0, 1)))
            return Array(writer.written)
        }
        // Answer at 38: pointer, fixed fields, then priority/weight/port and "maas.test" in full.
        #expect(Array(written[50..<56]) == [0, 0, 0, 5, 0, 69])
        #expect(Array(written[56..<67]) == [4, 0x6D, 0x61, 0x61, 0x73, 4, 0x74, 0x65, 0x73, 0x74, 0])
        #expect(Array(written[67..<69]) == [0xC0, 0x17])
        #expect(try dnsRecords(written).map(\.data) == ["0 5 69 maas.test", "198.18.0.1"])
    }

    @Test func compressionTableFullStillWritesValidNames() throws {
        let arena = DNSNameArena()
        let written = try withWriter(size: 8192, header: responseHeader) { writer in
            try writer.writeQuestion(arena.name("maas.test"), type: .a)
            for i in 0..<100 {
                try writer.writeRecord(.answer, name: arena.name("host\(i).rack\(i % 7).maas.test"), ttl: 1,
                                       data: .cname(arena.name("alias\(i).maas.test")))
            }
            return Array(writer.written)
        }
        let records = try dnsRecords(written)
        #expect(records.count == 100)
        #expect(records[99].name == "host99.rack1.maas.test" && records[99].data == "alias99.maas.test")
    }

    @Test func rootNamesAndSetHeader() throws {
        let arena = DNSNameArena()
        let written = try withWriter(header: DNSHeader(id: 1)) { writer in
            try writer.writeQuestion(arena.name("."), type: .soa)
            writer.setHeader(id: 0xBEEF, flags: 0x8203)
            return Array(writer.written)
        }
        #expect(written == [0xBE, 0xEF, 0x82, 0x03, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1])
    }
}
