/// Option 81 (RFC 4702): flags, two deprecated rcodes, and the client's name.
public struct DHCPClientFQDN: Equatable, Sendable {
    public var flags: UInt8
    public var rcode1: UInt8
    public var rcode2: UInt8
    /// The name in presentation form, without a trailing dot.
    public var name: String

    /// S: the server should do the A update. O: the server overrode S. E: canonical wire
    /// encoding of the name (else deprecated ASCII). N: no server updates.
    public static let flagS: UInt8 = 0x01
    public static let flagO: UInt8 = 0x02
    public static let flagE: UInt8 = 0x04
    public static let flagN: UInt8 = 0x08

    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= 3 else { throw WireError(.invalidLength, "dhcp.option81", at: 0) }
        flags = bytes[0]
        rcode1 = bytes[1]
        rcode2 = bytes[2]
        let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[3...])
        if flags & Self.flagE != 0 {
            // RFC 4702 §2.3.1: uncompressed DNS wire labels; a partial name lacks the root label.
            var labels: [String] = []
            var offset = 0
            while offset < nameBytes.count {
                let length = Int(nameBytes[offset])
                if length == 0 { break }
                guard length <= 63 else { throw WireError(.limitExceeded, "dhcp.option81.label", at: 3 + offset) }
                guard offset + 1 + length <= nameBytes.count else {
                    throw WireError(.truncated, "dhcp.option81.label", at: 3 + offset)
                }
                labels.append(String(decoding: nameBytes[offset + 1..<offset + 1 + length], as: UTF8.self))
                offset += 1 + length
            }
            name = labels.joined(separator: ".")
        } else {
            var text = String(decoding: nameBytes, as: UTF8.self)
            while text.hasSuffix("\0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
            name = text
        }
    }
}
