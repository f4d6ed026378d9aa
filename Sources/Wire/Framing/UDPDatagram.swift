/// A UDP header (RFC 768) and its payload, bounded by the Length field.
public struct UDPDatagram {
    public static let headerLength = 8
    public let sourcePort: UInt16
    public let destinationPort: UInt16
    public let length: Int
    public let checksum: UInt16
    public let payload: UnsafeRawBufferPointer

    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= 8 else { throw WireError(.truncated, "udp.header", at: bytes.count) }
        sourcePort = bytes.uint16(at: 0)
        destinationPort = bytes.uint16(at: 2)
        length = Int(bytes.uint16(at: 4))
        checksum = bytes.uint16(at: 6)
        guard length >= 8 else { throw WireError(.invalidLength, "udp.length", at: 4) }
        // Length past the captured bytes: a cut capture; keep what is there (tools still decode).
        payload = UnsafeRawBufferPointer(rebasing: bytes[8..<min(length, bytes.count)])
    }

    /// Writes the 8-byte header; `checksum` is computed by the caller or left 0 (IPv4 only).
    public static func writeHeader(into writer: inout WireWriter, sourcePort: UInt16, destinationPort: UInt16, payloadLength: Int, checksum: UInt16 = 0) throws(WireError) {
        guard payloadLength + 8 <= 0xFFFF else { throw WireError(.invalidLength, "udp.length", at: writer.count + 4) }
        try writer.writeUInt16(sourcePort, "udp.source_port")
        try writer.writeUInt16(destinationPort, "udp.destination_port")
        try writer.writeUInt16(UInt16(8 + payloadLength), "udp.length")
        try writer.writeUInt16(checksum, "udp.checksum")
    }
}
