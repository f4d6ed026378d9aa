/// An IPv4 address held as its 32-bit value in host order (198.18.0.1 is 0xC612_0001).
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt32

    @inlinable public init(_ value: UInt32) { self.value = value }

    @inlinable
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    public static let any = IPv4Address(0)
    public static let broadcast = IPv4Address(0xFFFF_FFFF)

    /// Parses dotted-quad text ("198.18.0.1"); nil for anything else.
    public init?(_ text: some StringProtocol) {
        var text = String(text)
        guard let address = text.withUTF8({ Self(ascii: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = address
    }

    /// Parses dotted-quad text given as its ASCII bytes (a database value read in place).
    public init?(ascii text: UnsafeRawBufferPointer) {
        var result: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                result = result << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                // A leading zero is refused: "010" is octal to some parsers and decimal to others.
                if digits == 1, octet == 0 { return nil }
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        value = result << 8 | octet
    }

    /// Reads four bytes at `offset` of a buffer whose bounds the caller has checked.
    @inlinable
    public init(bytes: UnsafeRawBufferPointer, at offset: Int) {
        value = bytes.uint32(at: offset)
    }

    public var isUnspecified: Bool { value == 0 }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

extension WireReader {
    @inlinable
    public mutating func readIPv4(_ field: StaticString) throws(WireError) -> IPv4Address {
        IPv4Address(try readUInt32(field))
    }
}

extension WireWriter {
    @inlinable
    public mutating func writeIPv4(_ address: IPv4Address, _ field: StaticString) throws(WireError) {
        try writeUInt32(address.value, field)
    }
}
