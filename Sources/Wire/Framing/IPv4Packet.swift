/// An IPv4 packet header (RFC 791) and its payload, bounded by Total Length.
public struct IPv4Packet {
    public let headerLength: Int
    public let totalLength: Int
    public let identification: UInt16
    /// True for any fragment but a whole datagram (MF set or a non-zero offset).
    public let isFragment: Bool
    public let fragmentOffset: Int
    public let ttl: UInt8
    public let proto: UInt8
    public let source: IPv4Address
    public let destination: IPv4Address
    public let payload: UnsafeRawBufferPointer

    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= 20 else { throw WireError(.truncated, "ipv4.header", at: bytes.count) }
        guard bytes[0] >> 4 == 4 else { throw WireError(.invalidValue, "ipv4.version", at: 0) }
        headerLength = Int(bytes[0] & 0x0F) * 4
        guard headerLength >= 20 else { throw WireError(.invalidValue, "ipv4.ihl", at: 0) }
        guard headerLength <= bytes.count else { throw WireError(.truncated, "ipv4.options", at: 20) }
        let declared = Int(bytes.uint16(at: 2))
        // Zero is what a capture taken before TCP segmentation offload shows: the NIC fills the
        // length in later. Take the captured length then, as tshark does.
        totalLength = declared == 0 ? bytes.count : declared
        guard totalLength >= headerLength else { throw WireError(.invalidLength, "ipv4.total_length", at: 2) }
        identification = bytes.uint16(at: 4)
        let fragment = bytes.uint16(at: 6)
        fragmentOffset = Int(fragment & 0x1FFF) * 8
        isFragment = fragment & 0x2000 != 0 || fragmentOffset != 0
        ttl = bytes[8]
        proto = bytes[9]
        source = IPv4Address(bytes: bytes, at: 12)
        destination = IPv4Address(bytes: bytes, at: 16)
        // A capture may cut the packet short (snaplen) or pad it (Ethernet minimum): trust
        // Total Length, bounded by what is there.
        payload = UnsafeRawBufferPointer(rebasing: bytes[headerLength..<min(totalLength, bytes.count)])
    }

    /// Writes a 20-byte header without options, checksum filled in.
    public static func writeHeader(
        into writer: inout WireWriter, source: IPv4Address, destination: IPv4Address, proto: UInt8,
        payloadLength: Int, identification: UInt16 = 0, ttl: UInt8 = 64, dontFragment: Bool = true
    ) throws(WireError) {
        let start = writer.count
        guard payloadLength + 20 <= 0xFFFF else { throw WireError(.invalidLength, "ipv4.total_length", at: start + 2) }
        try writer.writeUInt8(0x45, "ipv4.version")
        try writer.writeUInt8(0, "ipv4.tos")
        try writer.writeUInt16(UInt16(20 + payloadLength), "ipv4.total_length")
        try writer.writeUInt16(identification, "ipv4.identification")
        try writer.writeUInt16(dontFragment ? 0x4000 : 0, "ipv4.flags")
        try writer.writeUInt8(ttl, "ipv4.ttl")
        try writer.writeUInt8(proto, "ipv4.protocol")
        try writer.writeUInt16(0, "ipv4.checksum")
        try writer.writeIPv4(source, "ipv4.source")
        try writer.writeIPv4(destination, "ipv4.destination")
        let header = UnsafeRawBufferPointer(rebasing: writer.buffer[start..<start + 20])
        writer.patchUInt16(InternetChecksum.ipv4Header(header), at: start + 10)
    }
}
