import Testing
@testable import Rack
import Wire

struct BootRecorderTests {
    static func name(_ text: String) -> BootRecorder.Name {
        Array(text.utf8).withUnsafeBytes { BootRecorder.Name($0) }
    }

    @Test func drainsOldestFirstAndOnlyOnce() {
        let recorder = BootRecorder(capacity: 8)
        recorder.record(.dhcp, address: 0xC612_001F, mac: 0x5254_0000_0031, name: Self.name("lpxelinux.0"), outcome: "ack", bytes: 0)
        recorder.record(.http, address: 0xC612_001F, name: Self.name("/ipxe.cfg"), status: 200, outcome: "ok", bytes: 56)
        let steps = recorder.drain()
        #expect(steps.map(\.stage) == ["dhcp", "http"])
        #expect(steps[0].mac == "52:54:00:00:00:31" && steps[0].address == "198.18.0.31" && steps[0].status == nil)
        #expect(steps[1].name == "/ipxe.cfg" && steps[1].status == 200 && steps[1].bytes == 56 && steps[1].mac == nil)
        #expect(recorder.drain().isEmpty)
        // Drains swap the ring's two arrays: each round still sees its own steps, in order.
        for round in 0..<5 {
            for i in 0..<3 { recorder.record(.tftp, address: UInt32(i), name: Self.name("r\(round)-\(i)"), outcome: "ok", bytes: 0) }
            #expect(recorder.drain().map(\.name) == ["r\(round)-0", "r\(round)-1", "r\(round)-2"])
        }
    }

    @Test func aFullRingOverwritesTheOldestAndCountsThem() {
        let recorder = BootRecorder(capacity: 3)
        for i in 0..<5 {
            recorder.record(.tftp, address: UInt32(i), name: Self.name("file\(i)"), outcome: "ok", bytes: UInt64(i))
        }
        #expect(recorder.drain().map(\.name) == ["file2", "file3", "file4"])
        #expect(recorder.totals == (recorded: 5, overwritten: 2))
        recorder.countLost(3)  // dropped from the region link's backlog
        #expect(recorder.totals == (recorded: 5, overwritten: 5))
        #expect(recorder.renderMetrics().contains("rackplane_rack_boot_steps_overwritten_total 5"))
    }

    @Test func namesAreCutToCapacityAndControlBytesCannotForgeLines() {
        let long = String(repeating: "a", count: 300)
        #expect(Self.name(long).text.utf8.count == BootRecorder.Name.capacity)
        #expect(Self.name("x\ny\u{7F}").text == "x?y?")
    }

    /// An ACK as the DHCP server writes it: `file` in the BOOTP field, or only in option 67.
    static func ack(field: String?, option67: String?) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let length = try buffer.withUnsafeMutableBytes { raw in
            var message = DHCPMessageWriter(into: raw)
            let chaddr: [UInt8] = [0x52, 0x54, 0, 0, 0, 0x31]
            try chaddr.withUnsafeBytes { chaddr in
                if let field {
                    try Array(field.utf8).withUnsafeBytes { try message.writeHeader(op: 2, xid: 7, chaddr: chaddr, file: $0) }
                } else {
                    try message.writeHeader(op: 2, xid: 7, chaddr: chaddr)
                }
            }
            try message.writeMessageType(.ack, serverIdentifier: IPv4Address(198, 18, 0, 1))
            try message.writeOption(DHCPOptionCode.domainNameServer, address: IPv4Address(198, 18, 0, 1))
            if let option67 { try Array(option67.utf8).withUnsafeBytes { try message.writeOption(DHCPOptionCode.bootfileName, $0) } }
            return try message.finish()
        }
        return Array(buffer[0..<length])
    }

    @Test func theBootFileOfAnACKComesFromTheFieldOrElseOption67() throws {
        let long = "http://198.18.0.1:5248/images/ubuntu/amd64/ga-24.04/noble/stable/boot-kernel?machine=" + String(repeating: "0", count: 80)
        let cases: [(field: String?, option: String?, expected: String)] = [
            ("lpxelinux.0", "lpxelinux.0", "lpxelinux.0"),
            (nil, long, long),   // 171 bytes: too long for the field
            (nil, nil, ""),
        ]
        for (field, option, expected) in cases {
            let reply = try Self.ack(field: field, option67: option)
            let file = reply.withUnsafeBytes { DHCPService.withBootFile(inReply: $0) { String(decoding: $0, as: UTF8.self) } }
            #expect((file ?? "") == expected)
        }
        // A reply cut inside the options reads as naming nothing rather than past its end.
        let cut = try Self.ack(field: nil, option67: long).prefix(DHCPLayout.options + 20)
        #expect(Array(cut).withUnsafeBytes { DHCPService.withBootFile(inReply: $0) { _ in true } } == nil)
        // A name over 255 bytes is split (RFC 3396): recorded whole as far as the recorder keeps.
        let longer = long + String(repeating: "1", count: 200)
        let split = try Self.ack(field: nil, option67: longer)
        #expect(split.withUnsafeBytes { DHCPService.withBootFile(inReply: $0) { String(decoding: $0, as: UTF8.self) } } == longer)
    }

    @Test func aSizeProbeIsNotAFailedTransfer() {
        #expect(TFTPService.bootOutcome(.clientError, acknowledged: 0).description == "size probe")
        #expect(TFTPService.bootOutcome(.clientError, acknowledged: 3).description == "stopped by the client")
        #expect(TFTPService.bootOutcome(.timedOut, acknowledged: 3).description == "timed out")
    }
}
