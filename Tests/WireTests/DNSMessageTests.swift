import Testing
@testable import Wire

/// dns_udp.pcap frame 2: a response with compressed names, A, NS, AAAA and an empty OPT.
let dnsUDPResponse = bytes(hex: """
    593485000001000200020005037777770774637064756d70036f72670000010001c00c000100010000003c0004c08b2e42c00c00010001\
    0000003c0004c6c75868c0100002000100015180001203736e7308636f6f7065726978036e657400c01000020001000151800012036e69\
    630973616e64656c6d616e02636100c06b000100010000012c0004d157f912c06b001c00010000012c00102607f0b0000f000000000000\
    babef00dc04d0001000100001c200004616b850fc04d001c000100001c20001026003c0300000000f03c91fffe96e8ef00002910000000\
    00000000
    """)

/// dns-badcookie.pcap frame 4: SOA answer for the root, EDNS cookie, extended RCODE.
let dnsSOAResponse = bytes(hex: """
    b43381a000010001000000010000060001000006000100014efe004001610c726f6f742d73657276657273036e657400056e73746c640c76\
    6572697369676e2d67727303636f6d007857d192000007080000038400093a8000015180000029100000000000001c000a001836bf111fef\
    2e01090a2f9da25c636ffb49c35bb14fa428b4
    """)

/// dns-uri.pcap frame 2: a URI record (type 256), which we keep opaque.
let dnsURIResponse = bytes(hex: """
    af2d85800001000100000001055f6874747003646e7304746573740001000001c00c0100000100002a30001c000a0005687474703a2f2f77\
    77772e646e732e746573743a383030300000291000000000000000
    """)

/// edns-opts.pcap frame 37: three EDNS options (3, 12, 10).
let dnsEDNSQuery = bytes(hex: """
    725301200001000000000001076578616d706c6503636f6d00000100010000291000000000000028000300080123456789abcdef000c000c\
    000000000000000000000000000a0008aaaaaaaaaaaaaaaa
    """)

/// Crafted (see the brief's TXT/MX/SRV/PTR/CNAME/NS cases) and checked against tshark 4.0.
let dnsCraftedResponse = bytes(hex: """
    12348180000100080000000003612e6202017806737020616365085122283b2940245c02c3a904746573740000100001c00c00100001000000\
    3c00140568656c6c6f0008776f22726c645c780301ff7fc00c000f00010000003c000b000a026d78047465737400c00c002100010000003c00\
    1000010002000303737276047465737400c00c000c00010000003c000100c00c000500010000003c00080163047465737400c00c0002000100\
    00003c000100c00c006300010000003c0000c00c001000010000003c0000
    """)

struct DNSRecordSummary: Equatable, CustomStringConvertible {
    var section: DNSSection
    var name: String
    var type: UInt16
    var ttl: UInt32
    var data: String
    var description: String { "\(section) \(name) \(type) \(ttl) \(data)" }
}

/// Every record of `message`, with its RDATA in presentation form.
func dnsRecords(_ message: [UInt8]) throws -> [DNSRecordSummary] {
    try message.withUnsafeBytes { buffer in
        let parsed = try DNSMessage(parsing: buffer)
        var records = parsed.records
        var out: [DNSRecordSummary] = []
        while let record = try records.next() {
            out.append(DNSRecordSummary(
                section: record.section, name: record.name.displayName, type: record.type.rawValue,
                ttl: record.ttl, data: try record.data().description))
        }
        return out
    }
}

private func parseError(_ message: [UInt8]) -> WireError? {
    message.withUnsafeBytes { buffer in
        do throws(WireError) {
            _ = try DNSMessage(parsing: buffer)
            return nil
        } catch {
            return error
        }
    }
}

/// The error the record iterator or RDATA decoding stops with, if any.
private func recordError(_ message: [UInt8]) -> WireError? {
    message.withUnsafeBytes { buffer in
        do throws(WireError) {
            var records = try DNSMessage(parsing: buffer).records
            while let record = try records.next() { _ = try record.data() }
            return nil
        } catch {
            return error
        }
    }
}

/// A response header (ID 0x1234) with one question for "a." type A, then `rest`.
private func oneQuestion(answers: UInt16 = 1, _ rest: [UInt8]) -> [UInt8] {
    [0x12, 0x34, 0x81, 0x80, 0, 1, UInt8(answers >> 8), UInt8(answers & 0xFF), 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1] + rest
}

/// An answer owned by the question name (pointer to 12).
private func answer(type: UInt16, rdlength: UInt16, _ rdata: [UInt8]) -> [UInt8] {
    [0xC0, 0x0C, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1, 0, 0, 0, 60, UInt8(rdlength >> 8), UInt8(rdlength & 0xFF)] + rdata
}

@Suite struct DNSMessageTests {
    // MARK: Header

    @Test func headerGoldenAndFlags() throws {
        let header = try dnsUDPResponse.withUnsafeBytes { try DNSHeader(parsing: $0) }
        #expect(header == DNSHeader(id: 0x5934, flags: 0x8500, questionCount: 1, answerCount: 2, authorityCount: 2, additionalCount: 5))
        #expect(header.qr && header.aa && header.rd)
        #expect(!header.tc && !header.ra && !header.ad && !header.cd && !header.z)
        #expect(header.opcode == 0 && header.rcode == 0)

        var flags = DNSHeader()
        flags.qr = true
        flags.opcode = 5
        flags.rcode = 3
        flags.cd = true
        #expect(flags.flags == 0xA813)
        flags.opcode = 0
        #expect(flags.flags == 0x8013)
    }

    @Test func truncatedHeaders() {
        #expect(parseError([]) == WireError(.truncated, "dns.header.id", at: 0))
        #expect(parseError([0x12]) == WireError(.truncated, "dns.header.id", at: 0))
        #expect(parseError([0x12, 0x34, 0x01]) == WireError(.truncated, "dns.header.flags", at: 2))
        #expect(parseError(Array(dnsUDPResponse[..<11])) == WireError(.truncated, "dns.header.arcount", at: 10))
        // Exactly a header with no questions is a whole message.
        #expect(parseError([UInt8](repeating: 0, count: 12)) == nil)
    }

    @Test func questionSectionIsValidatedUpFront() {
        let query = Array(dnsUDPResponse[..<33])
        #expect(parseError(query) == nil)
        #expect(parseError(Array(query[..<32])) == WireError(.truncated, "dns.question.class", at: 31))
        #expect(parseError(Array(query[..<29])) == WireError(.truncated, "dns.question.type", at: 29))
        // QDCOUNT promises a second question that is not there.
        var two = query
        two[5] = 2
        #expect(parseError(two) == WireError(.truncated, "dns.question.name", at: 33))
    }

    @Test func questionFields() throws {
        try dnsUDPResponse.withUnsafeBytes { buffer in
            let message = try DNSMessage(parsing: buffer)
            let question = try #require(message.question)
            #expect(question.name.displayName == "www.tcpdump.org")
            #expect(question.type == .a && question.dnsClass == .in)
            #expect(message.recordsOffset == 33)
            #expect(Array(message.questions).count == 1)
        }
    }

    // MARK: Records

    @Test func recordsOfARealResponse() throws {
        let records = try dnsRecords(dnsUDPResponse)
        #expect(records.map(\.description) == [
            "answer www.tcpdump.org 1 60 192.139.46.66",
            "answer www.tcpdump.org 1 60 198.199.88.104",
            "authority tcpdump.org 2 86400 sns.cooperix.net",
            "authority tcpdump.org 2 86400 nic.sandelman.ca",
            "additional nic.sandelman.ca 1 300 209.87.249.18",
            "additional nic.sandelman.ca 28 300 2607:f0b0:f::babe:f00d",
            "additional sns.cooperix.net 1 7200 97.107.133.15",
            "additional sns.cooperix.net 28 7200 2600:3c03::f03c:91ff:fe96:e8ef",
            "additional <Root> 41 0 udp 4096 rcode 0 version 0 do 0 options ",
        ])
    }

    @Test func soaAndExtendedRCode() throws {
        let records = try dnsRecords(dnsSOAResponse)
        #expect(records[0].description
            == "answer <Root> 6 85758 a.root-servers.net nstld.verisign-grs.com 2019021202 1800 900 604800 86400")
        try dnsSOAResponse.withUnsafeBytes { buffer in
            let message = try DNSMessage(parsing: buffer)
            let opt = try #require(try message.edns())
            #expect(opt.udpPayloadSize == 4096)
            #expect(opt.extendedRCode == 0)
            #expect(opt.options.map(\.code) == [10])
            #expect(opt.options.map(\.data.count) == [24])
        }
    }

    @Test func extendedRCodeCombinesWithTheHeader() throws {
        // RCODE 7 in the header and 1 in the OPT TTL: BADCOOKIE, 23 (RFC 7873 §8), as in
        // dns-badcookie.pcap frame 2.
        let message: [UInt8] = [0xF6, 0xAB, 0x81, 0x87, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x00, 0x29, 0x10, 0x00, 0x01, 0x00, 0x80, 0x00, 0, 0]
        try message.withUnsafeBytes { buffer in
            let parsed = try DNSMessage(parsing: buffer)
            let opt = try #require(try parsed.edns())
            #expect(opt.extendedRCode == 1 && opt.version == 0 && opt.dnssecOK)
            #expect(opt.fullRCode(header: parsed.header) == 23)
        }
    }

    @Test func unknownTypeStaysOpaque() throws {
        let records = try dnsRecords(dnsURIResponse)
        #expect(records[0].type == 256)
        // tshark's dns.data for the same record.
        #expect(records[0].data == "00:0a:00:05:68:74:74:70:3a:2f:2f:77:77:77:2e:64:6e:73:2e:74:65:73:74:3a:38:30:30:30")
    }

    @Test func ednsOptionsInOrder() throws {
        try dnsEDNSQuery.withUnsafeBytes { buffer in
            let opt = try #require(try DNSMessage(parsing: buffer).edns())
            #expect(opt.options.map(\.code) == [3, 12, 10])
            #expect(opt.options.map { hexString($0.data) } == ["0123456789abcdef", "000000000000000000000000", "aaaaaaaaaaaaaaaa"])
            #expect(opt.version == 0 && !opt.dnssecOK)
        }
    }

    @Test func typedRDataMatchesTshark() throws {
        let records = try dnsRecords(dnsCraftedResponse)
        // tshark 4.0: dns.txt ["hello", "", "wo\"rld\\x", …], MX 10 mx.test, SRV 1 2 3 srv.test,
        // PTR <Root>, CNAME c.test, NS <Root>, type 99 with no data, empty TXT.
        #expect(records.map(\.data) == [
            "\"hello\" \"\" \"wo\\\"rld\\\\x\" \"\\001\\255\\127\"",
            "10 mx.test",
            "1 2 3 srv.test",
            "<Root>",
            "c.test",
            "<Root>",
            "",
            "",
        ])
        #expect(records[0].name == "a\\.b.\\001x.sp\\032ace.Q\"(;)@$\\\\.\\195\\169.test")
    }

    // MARK: RDATA edges

    @Test func rdlengthPastTheEnd() {
        // Declares 5 bytes, holds 4: the last byte that fits is missing.
        let message = oneQuestion(answer(type: 1, rdlength: 5, [198, 18, 0, 1]))
        #expect(recordError(message) == WireError(.truncated, "dns.answer.rdata", at: 31))
        // The same record with the length it really has is fine.
        #expect(recordError(oneQuestion(answer(type: 1, rdlength: 4, [198, 18, 0, 1]))) == nil)
    }

    @Test func truncatedFixedFields() {
        let whole = oneQuestion(answer(type: 1, rdlength: 4, [198, 18, 0, 1]))
        #expect(recordError(Array(whole[..<30])) == WireError(.truncated, "dns.answer.type", at: 21))
        #expect(recordError(Array(whole[..<20])) == WireError(.truncated, "dns.answer.name", at: 19))
    }

    @Test func zeroLengthRData() throws {
        #expect(recordError(oneQuestion(answer(type: 1, rdlength: 0, []))) == WireError(.invalidLength, "dns.rdata.a", at: 31))
        #expect(recordError(oneQuestion(answer(type: 28, rdlength: 0, []))) == WireError(.invalidLength, "dns.rdata.aaaa", at: 31))
        #expect(recordError(oneQuestion(answer(type: 2, rdlength: 0, []))) == WireError(.invalidLength, "dns.rdata.ns", at: 31))
        #expect(recordError(oneQuestion(answer(type: 15, rdlength: 0, []))) == WireError(.invalidLength, "dns.rdata.mx", at: 31))
        #expect(recordError(oneQuestion(answer(type: 6, rdlength: 0, []))) == WireError(.invalidLength, "dns.rdata.soa", at: 31))
        #expect(recordError(oneQuestion(answer(type: 33, rdlength: 0, []))) == WireError(.invalidLength, "dns.rdata.srv", at: 31))
        // Zero strings of TXT, no EDNS options, and an empty unknown type are all well formed.
        #expect(try dnsRecords(oneQuestion(answer(type: 16, rdlength: 0, [])))[0].data == "")
        #expect(try dnsRecords(oneQuestion(answer(type: 41, rdlength: 0, [])))[0].data.hasSuffix("options "))
        #expect(try dnsRecords(oneQuestion(answer(type: 999, rdlength: 0, [])))[0].data == "")
    }

    @Test func nameInRDataMustEndWhereRDataEnds() {
        // NS "a." followed by a stray byte inside the RDATA.
        #expect(recordError(oneQuestion(answer(type: 2, rdlength: 4, [1, 0x61, 0, 0xFF])))
            == WireError(.invalidLength, "dns.rdata.ns", at: 31))
        // A compressed NS target pointing back at the question is fine.
        #expect(recordError(oneQuestion(answer(type: 2, rdlength: 2, [0xC0, 0x0C]))) == nil)
    }

    @Test func txtStringRunningPastRData() {
        #expect(recordError(oneQuestion(answer(type: 16, rdlength: 3, [5, 0x61, 0x62])))
            == WireError(.truncated, "dns.rdata.txt", at: 34))
    }

    @Test func ednsOptionRunningPastRData() {
        #expect(recordError(oneQuestion(answer(type: 41, rdlength: 6, [0, 10, 0, 8, 1, 2])))
            == WireError(.truncated, "dns.opt.option.length", at: 33))
        #expect(recordError(oneQuestion(answer(type: 41, rdlength: 2, [0, 10])))
            == WireError(.truncated, "dns.opt.option", at: 31))
    }

    @Test func iteratorStopsAfterAnError() throws {
        try oneQuestion(answers: 2, answer(type: 1, rdlength: 9, [1])).withUnsafeBytes { buffer in
            var records = try DNSMessage(parsing: buffer).records
            #expect(throws: WireError(.truncated, "dns.answer.rdata", at: 31)) { try records.next() }
            #expect(try records.next() == nil)
        }
    }

    @Test func trailingBytesAfterTheLastRecordAreIgnored() throws {
        #expect(try dnsRecords(oneQuestion(answer(type: 1, rdlength: 4, [198, 18, 0, 1]) + [0xFF, 0xFF])).count == 1)
    }

    @Test func recordViewOffsets() throws {
        try oneQuestion(answer(type: 1, rdlength: 4, [198, 18, 0, 1])).withUnsafeBytes { buffer in
            var records = try DNSMessage(parsing: buffer).records
            let record = try #require(try records.next())
            #expect(record.name.offset == 19 && record.name.end == 21)
            #expect(record.rdataOffset == 31 && record.rdataLength == 4 && record.end == 35)
            #expect(record.section == .answer && record.type == .a && record.dnsClass == .in && record.ttl == 60)
            #expect(records.offset == 35)
        }
    }
}
