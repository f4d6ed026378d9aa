/// A TCP header (RFC 9293) and its payload; options skipped.
public struct TCPSegment {
    public let sourcePort: UInt16
    public let destinationPort: UInt16
    public let sequenceNumber: UInt32
    public let acknowledgmentNumber: UInt32
    public let headerLength: Int
    public let flags: UInt8
    public let window: UInt16
    public let payload: UnsafeRawBufferPointer

    public static let fin: UInt8 = 0x01
    public static let syn: UInt8 = 0x02
    public static let rst: UInt8 = 0x04
    public static let psh: UInt8 = 0x08
    public static let ack: UInt8 = 0x10

    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= 20 else { throw WireError(.truncated, "tcp.header", at: bytes.count) }
        sourcePort = bytes.uint16(at: 0)
        destinationPort = bytes.uint16(at: 2)
        sequenceNumber = bytes.uint32(at: 4)
        acknowledgmentNumber = bytes.uint32(at: 8)
        headerLength = Int(bytes[12] >> 4) * 4
        guard headerLength >= 20 else { throw WireError(.invalidValue, "tcp.data_offset", at: 12) }
        guard headerLength <= bytes.count else { throw WireError(.truncated, "tcp.options", at: 20) }
        flags = bytes[13]
        window = bytes.uint16(at: 14)
        payload = UnsafeRawBufferPointer(rebasing: bytes[headerLength...])
    }
}
