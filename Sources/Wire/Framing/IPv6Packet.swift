/// An IPv6 packet (RFC 8200) with the common extension headers skipped, enough to reach UDP/TCP.
public struct IPv6Packet {
    public let source: IPv6Address
    public let destination: IPv6Address
    /// The upper-layer protocol after extension headers.
    public let proto: UInt8
    public let isFragment: Bool
    public let payload: UnsafeRawBufferPointer

    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= 40 else { throw WireError(.truncated, "ipv6.header", at: bytes.count) }
        guard bytes[0] >> 4 == 6 else { throw WireError(.invalidValue, "ipv6.version", at: 0) }
        let payloadLength = Int(bytes.uint16(at: 4))
        var next = bytes[6]
        source = IPv6Address(bytes: bytes, at: 8)
        destination = IPv6Address(bytes: bytes, at: 24)
        let end = min(bytes.count, 40 + payloadLength)
        var offset = 40
        var fragment = false
        var hops = 0
        // Hop-by-hop (0), routing (43), fragment (44), destination options (60).
        while next == 0 || next == 43 || next == 44 || next == 60 {
            hops += 1
            guard hops <= 8 else { throw WireError(.limitExceeded, "ipv6.extension", at: offset) }
            guard offset + 8 <= end else { throw WireError(.truncated, "ipv6.extension", at: offset) }
            let length = next == 44 ? 8 : (Int(bytes[offset + 1]) + 1) * 8
            if next == 44 { fragment = bytes.uint16(at: offset + 2) & 0xFFF9 != 0 }
            next = bytes[offset]
            offset += length
            guard offset <= end else { throw WireError(.truncated, "ipv6.extension", at: offset) }
        }
        proto = next
        isFragment = fragment
        payload = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
    }
}
