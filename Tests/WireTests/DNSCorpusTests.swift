import Testing
@testable import Wire

/// Captures whose every DNS message is well formed.
private let wellFormedCaptures = [
    "tcpdump/dns_udp.pcap", "tcpdump/dns_udp_8053.pcap", "tcpdump/edns-opts.pcap", "tcpdump/dns-badcookie.pcap",
    "tcpdump/dns-badvers.pcap", "tcpdump/dns-uri.pcap", "tcpdump/dnssec.pcap",
]

private func dnsPayloads(_ file: String) throws -> [Corpus.Datagram] {
    try Corpus.udpDatagrams(file).filter { [53, 8053].contains($0.sourcePort) || [53, 8053].contains($0.destinationPort) }
}

/// Header, questions and records of a message, in comparable form.
private struct MessageSummary: Equatable {
    var header: DNSHeader
    var questions: [String]
    var records: [DNSRecordSummary]
}

private func summary(_ message: [UInt8]) throws -> MessageSummary {
    try message.withUnsafeBytes { buffer in
        let parsed = try DNSMessage(parsing: buffer)
        return MessageSummary(
            header: parsed.header,
            questions: parsed.questions.map { "\($0.name) \($0.type) \($0.dnsClass)" },
            records: try dnsRecords(message))
    }
}

/// Parses `message` and writes it again through `DNSMessageWriter`.
func reencodeDNS(_ message: [UInt8]) throws -> [UInt8] {
    try message.withUnsafeBytes { buffer in
        let parsed = try DNSMessage(parsing: buffer)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65535, alignment: 1)
        defer { out.deallocate() }
        var writer = try DNSMessageWriter(out, header: parsed.header)
        for question in parsed.questions {
            try writer.writeQuestion(question.name, type: question.type, dnsClass: question.dnsClass)
        }
        var records = parsed.records
        while let record = try records.next() { try writer.writeRecord(copying: record) }
        return Array(writer.written)
    }
}

/// The error parsing and walking every record of `message` stops with, if any.
private func firstError(_ message: [UInt8]) -> WireError? {
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

@Suite struct DNSCorpusTests {
    @Test(arguments: wellFormedCaptures)
    func roundTripKeepsTheSameView(_ file: String) throws {
        let datagrams = try dnsPayloads(file)
        #expect(!datagrams.isEmpty)
        for datagram in datagrams {
            let original = try summary(datagram.payload)
            let again = try reencodeDNS(datagram.payload)
            #expect(try summary(again) == original, "\(file) frame \(datagram.frame)")
            // Our compression is at least as good as the servers' in the captures.
            #expect(again.count <= datagram.payload.count, "\(file) frame \(datagram.frame)")
            // Names compare equal across the two messages.
            try datagram.payload.withUnsafeBytes { a in
                try again.withUnsafeBytes { b in
                    var left = try DNSMessage(parsing: a).records
                    var right = try DNSMessage(parsing: b).records
                    while let x = try left.next() {
                        let y = try #require(try right.next())
                        #expect(x.name == y.name)
                    }
                }
            }
        }
    }

    @Test func roundTripIsAFixedPoint() throws {
        // Re-encoding our own output gives the same bytes.
        for file in wellFormedCaptures {
            for datagram in try dnsPayloads(file) {
                let once = try reencodeDNS(datagram.payload)
                #expect(try reencodeDNS(once) == once, "\(file) frame \(datagram.frame)")
            }
        }
    }

    @Test func snapLengthCutResponse() throws {
        // dns_udp_2.pcap: frame 2 was cut by the capture's snap length.
        let datagrams = try dnsPayloads("tcpdump/dns_udp_2.pcap")
        #expect(firstError(datagrams[0].payload) == nil)
        #expect(firstError(datagrams[1].payload)?.reason == .truncated)
    }

    // MARK: Compression bombs and garbage

    @Test func zlipSelfPointer() {
        // dns-zlip-1.pcap (its UDP length says 0, so the bytes are embedded).
        let message = bytes(hex: "ed6900000001000000000000c00cc007c010c017c020c027c030c0ffcf000000010001")
        #expect(firstError(message) == WireError(.badPointer, "dns.question.name", at: 12))
    }

    @Test func zlipForwardPointer() {
        // dns-zlip-2.pcap.
        let message = bytes(hex: "4a3000000001000000000000c00ec00cc010c017c020c027c030c0ffcf000000010001")
        #expect(firstError(message) == WireError(.badPointer, "dns.question.name", at: 12))
    }

    @Test func zlipLabelThenPointerBack() {
        // dns-zlip-3.pcap: a 62-byte label, then pointers back to it.
        let message = bytes(hex: """
            ffcb000000010000000000003e746869736c6565746f737472696e6777696c6c6372617368796f75726c6974746c656e616d\
            65736572766572666f72737572656861686168616861686168c00cc00cc00cc00cc00cc00cc00cc00cc00cc00cc00cc00cc00cc00cc00c
            """)
        #expect(message.count == 105)
        #expect(firstError(message) == WireError(.badPointer, "dns.question.name", at: 75))
    }

    @Test func badLabelCaptures() throws {
        // Fuzzed responses: one name grows past 255 bytes, the other has a forward pointer.
        let badLabel = try dnsPayloads("tcpdump/dns-badlabel.pcap")
        #expect(firstError(badLabel[0].payload) == WireError(.limitExceeded, "dns.question.name", at: 266))
        let forward = try dnsPayloads("tcpdump/dns_fwdptr.pcap")
        #expect(firstError(forward[0].payload) == WireError(.badPointer, "dns.question.name", at: 46))
    }

    @Test func pppCaptureGarbage() throws {
        // ppp_ip_udp_dns.pcap: the DNS bytes after a broken PPP/IP/UDP header.
        let message = bytes(hex: """
            00000000000000000000ffff000029697365000004000264650000000e0006000001c0040001f0ab01012127776b08004500804206\
            010000401171220a0b3e3fc0a8006f014cfd81393495c7e035706e79c6b2a1feff01136f01010081455a3536323345580101d4c3b2a1
            """)
        try message.withUnsafeBytes { buffer in
            let parsed = try DNSMessage(parsing: buffer)
            #expect(parsed.header.additionalCount == 0xFFFF)
            var records = parsed.records
            let opt = try #require(try records.next())
            #expect(opt.type == .opt && opt.dnsClass.rawValue == 26995)
            #expect(throws: WireError(.truncated, "dns.opt.option", at: 23)) { try opt.data() }
            #expect(throws: WireError(.truncated, "dns.additional.rdata", at: 36)) { try records.next() }
        }
    }
}
