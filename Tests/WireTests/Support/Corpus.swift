import PacketCapture
import Wire

/// The shared captures (`../shared/corpus` beside the repository), decoded to UDP payloads.
enum Corpus {
    /// `<repo>/../shared/corpus`, found from this file's path so tests run from any directory.
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        // …/<repo>/Tests/WireTests/Support/Corpus.swift → …/<repo>
        parts.removeLast(4)
        return parts.joined(separator: "/") + "/../shared/corpus"
    }()

    struct Datagram {
        let frame: Int
        let sourcePort: UInt16
        let destinationPort: UInt16
        let payload: [UInt8]
    }

    /// Every UDP datagram over IPv4 or IPv6 in `file` (a path under the corpus root).
    static func udpDatagrams(_ file: String) throws -> [Datagram] {
        let capture = try CaptureFile(path: root + "/" + file)
        var out: [Datagram] = []
        try capture.forEachPacket { frame, bytes in
            guard let (type, packet) = try? LinkLayer.networkLayer(linkType: capture.linkType, frame: bytes) else { return }
            var transport: UnsafeRawBufferPointer?
            if type == EtherType.ipv4, let ip = try? IPv4Packet(parsing: packet), ip.proto == IPProtocol.udp { transport = ip.payload }
            if type == EtherType.ipv6, let ip = try? IPv6Packet(parsing: packet), ip.proto == IPProtocol.udp { transport = ip.payload }
            guard let transport, let udp = try? UDPDatagram(parsing: transport) else { return }
            out.append(Datagram(frame: frame, sourcePort: udp.sourcePort, destinationPort: udp.destinationPort, payload: Array(udp.payload)))
        }
        return out
    }

    /// Every capture file name under a corpus sub-folder.
    static func files(in folder: String) -> [String] {
        // Listed rather than globbed: the corpus is fixed, and Wire tests avoid Foundation.
        switch folder {
        case "pxe": ["pxe/ipxe-boot.pcap", "pxe/pxelinux-boot.pcap"]
        default: []
        }
    }

    static let dhcpCaptures = [
        "tcpdump/dhcp-mud.pcap", "tcpdump/dhcp-option-108.pcapng", "tcpdump/dhcp-option-33.pcap",
        "tcpdump/dhcp-rfc3004.pcap", "tcpdump/dhcp-rfc4388.pcap", "tcpdump/dhcp-rfc5859.pcap",
        "tcpdump/dhcpv4v6-rfc5970-rfc8572.pcap", "pxe/ipxe-boot.pcap", "pxe/pxelinux-boot.pcap",
    ]
    /// Deliberately malformed captures (crashers in tcpdump itself).
    static let malformedDHCPCaptures = ["tcpdump/bootp_asan.pcap", "tcpdump/bootp_asan-2.pcap"]

    /// Packets inside otherwise good captures that are malformed on purpose or by accident;
    /// tshark flags each of them "Malformed Packet" too.
    static let knownMalformed = [
        "tcpdump/dhcp-rfc4388.pcap#43": "no magic cookie where RFC 2131 puts it",
        "tcpdump/dhcp-rfc4388.pcap#44": "no magic cookie where RFC 2131 puts it",
    ]

    static func dhcpPayloads(_ file: String) throws -> [Datagram] {
        try udpDatagrams(file).filter { [67, 68, 4011].contains($0.sourcePort) && [67, 68, 4011].contains($0.destinationPort) }
    }
}

/// Bytes from hex text ("0a1b…"); whitespace ignored.
func bytes(hex: String) -> [UInt8] {
    let digits = hex.utf8.filter { $0 != 0x20 && $0 != 0x0A }
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(after: i)
        out.append(UInt8(String(decoding: [digits[i], digits[j]], as: UTF8.self), radix: 16)!)
        i = digits.index(after: j)
    }
    return out
}
