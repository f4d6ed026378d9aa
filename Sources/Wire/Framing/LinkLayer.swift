/// Link-layer header types of pcap files (the `LINKTYPE_*` registry) that captures here use, and
/// how to reach the network layer from each.
public enum LinkLayer {
    public static let null: Int32 = 0        // BSD loopback: 4-byte address family, host order
    public static let ethernet: Int32 = 1
    public static let ppp: Int32 = 9
    public static let raw: Int32 = 101       // LINKTYPE_RAW (DLT_RAW is 12 or 14 on some systems)
    public static let loop: Int32 = 108      // OpenBSD loopback: family in network order
    public static let linuxSLL: Int32 = 113
    public static let ipv4: Int32 = 228
    public static let ipv6: Int32 = 229
    public static let linuxSLL2: Int32 = 276

    /// The EtherType (0x0800 or 0x86DD) and network-layer bytes of a captured frame.
    public static func networkLayer(linkType: Int32, frame: UnsafeRawBufferPointer) throws(WireError) -> (etherType: UInt16, packet: UnsafeRawBufferPointer) {
        func rest(_ at: Int, _ field: StaticString) throws(WireError) -> UnsafeRawBufferPointer {
            guard at <= frame.count else { throw WireError(.truncated, field, at: frame.count) }
            return UnsafeRawBufferPointer(rebasing: frame[at...])
        }
        func byVersion(_ packet: UnsafeRawBufferPointer) throws(WireError) -> UInt16 {
            guard let first = packet.first else { throw WireError(.truncated, "ip.version", at: 0) }
            switch first >> 4 {
            case 4: return EtherType.ipv4
            case 6: return EtherType.ipv6
            default: throw WireError(.invalidValue, "ip.version", at: 0)
            }
        }
        switch linkType {
        case ethernet:
            let ethernetFrame = try EthernetFrame(parsing: frame)
            return (ethernetFrame.etherType, ethernetFrame.payload)
        case null, loop:
            let packet = try rest(4, "loopback.family")
            return (try byVersion(packet), packet)
        case linuxSLL:
            guard frame.count >= 16 else { throw WireError(.truncated, "sll.header", at: frame.count) }
            return (frame.uint16(at: 14), try rest(16, "sll.header"))
        case linuxSLL2:
            guard frame.count >= 20 else { throw WireError(.truncated, "sll2.header", at: frame.count) }
            return (frame.uint16(at: 0), try rest(20, "sll2.header"))
        case ppp:
            // RFC 1662 framing: optional address/control FF 03, then a 2-byte protocol.
            var at = 0
            if frame.count >= 2, frame[0] == 0xFF, frame[1] == 0x03 { at = 2 }
            guard frame.count >= at + 2 else { throw WireError(.truncated, "ppp.protocol", at: frame.count) }
            switch frame.uint16(at: at) {
            case 0x0021: return (EtherType.ipv4, try rest(at + 2, "ppp.protocol"))
            case 0x0057: return (EtherType.ipv6, try rest(at + 2, "ppp.protocol"))
            default: throw WireError(.invalidValue, "ppp.protocol", at: at)
            }
        case raw, 12, 14, ipv4, ipv6:
            return (try byVersion(frame), frame)
        default:
            throw WireError(.invalidValue, "pcap.linktype", at: 0)
        }
    }
}
