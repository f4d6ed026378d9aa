import Testing
@testable import Wire

/// Every TFTP datagram of the real captures parses, and each re-encodes to the same bytes.
@Suite struct TFTPCorpusTests {
    /// All UDP in these captures that is not DHCP is TFTP (requests to 69, then transfer ports).
    static let captures = ["tcpdump/tftp.pcap", "pxe/ipxe-boot.pcap", "pxe/pxelinux-boot.pcap"]

    static func tftpDatagrams(_ file: String) throws -> [Corpus.Datagram] {
        try Corpus.udpDatagrams(file).filter { ![67, 68, 4011].contains($0.sourcePort) && ![67, 68, 4011].contains($0.destinationPort) }
    }

    @Test(arguments: captures)
    func everyDatagramParsesAndRoundTrips(_ file: String) throws {
        let datagrams = try Self.tftpDatagrams(file)
        #expect(!datagrams.isEmpty)
        var opcodes: Set<UInt16> = []
        for datagram in datagrams {
            try datagram.payload.withUnsafeBytes { raw in
                let packet: TFTPPacket
                do {
                    packet = try TFTPPacket.parse(raw)
                } catch {
                    Issue.record("frame \(datagram.frame): \(error)")
                    return
                }
                opcodes.insert(packet.opcode.rawValue)
                var out = [UInt8](repeating: 0, count: raw.count + 64)
                let encoded: [UInt8] = try out.withUnsafeMutableBytes { buffer in
                    var w = WireWriter(buffer)
                    switch packet {
                    case .readRequest(let rq):
                        try TFTPPacket.writeReadRequest(filename: rq.filename, mode: rq.mode, options: try rq.options.values(), into: &w)
                    case .writeRequest(let rq):
                        try TFTPPacket.writeWriteRequest(filename: rq.filename, mode: rq.mode, options: try rq.options.values(), into: &w)
                    case .data(let d):
                        try TFTPPacket.writeDataHeader(block: d.block, into: &w)
                        try w.writeBytes(d.payload, "payload")
                    case .acknowledgement(let block):
                        try TFTPPacket.writeAcknowledgement(block: block, into: &w)
                    case .error(let e):
                        try TFTPPacket.writeError(try #require(e.knownCode), message: e.message, into: &w)
                    case .optionAcknowledgement(let options):
                        try TFTPPacket.writeOptionAcknowledgement(try options.values(), into: &w)
                    }
                    return Array(w.written)
                }
                // Requests and OACKs re-encode option order as blksize, tsize, …; compare as sets.
                switch packet {
                case .readRequest, .optionAcknowledgement:
                    #expect(encoded.count == raw.count, "frame \(datagram.frame)")
                default:
                    #expect(encoded == Array(raw), "frame \(datagram.frame)")
                }
            }
        }
        #expect(opcodes.isSuperset(of: [3, 4]), "\(file)")
    }

    @Test func heapOverflowCaptureIsRefused() throws {
        let datagrams = try Corpus.udpDatagrams("tcpdump/tftp-heapoverflow.pcap")
        for datagram in datagrams {
            _ = datagram.payload.withUnsafeBytes { raw in
                #expect(throws: WireError.self) { try TFTPPacket.parse(raw) }
            }
        }
    }
}
