/// A 48-bit Ethernet address held in the low bits of a UInt64 (hashable, one word).
public struct MACAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var value: UInt64

    @inlinable public init(_ value: UInt64) { self.value = value & 0xFFFF_FFFF_FFFF }

    /// Reads six bytes at `offset` of a buffer whose bounds the caller has checked.
    @inlinable
    public init(bytes: UnsafeRawBufferPointer, at offset: Int) {
        var v: UInt64 = 0
        for i in 0..<6 { v = v << 8 | UInt64(bytes[offset + i]) }
        value = v
    }

    public static let broadcast = MACAddress(0xFFFF_FFFF_FFFF)

    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.value < rhs.value }

    /// Parses "52:54:00:00:00:01" (also with "-" separators, any case); nil for anything else.
    public init?(_ text: some StringProtocol) {
        var text = String(text)
        guard let address = text.withUTF8({ Self(ascii: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = address
    }

    /// Parses the same, given as ASCII bytes (a database value read in place), byte by byte:
    /// the region parses one per interface when it compiles (100k at a time).
    public init?(ascii text: UnsafeRawBufferPointer) {
        var parsed: UInt64 = 0
        var digits = 0
        var separators = 0
        for byte in text {
            if byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-") {
                guard digits == 2, separators < 5 else { return nil }
                separators += 1
                digits = 0
                continue
            }
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            guard digits < 2 else { return nil }
            parsed = parsed << 4 | UInt64(nibble)
            digits += 1
        }
        guard separators == 5, digits == 2 else { return nil }
        value = parsed
    }

    @inlinable
    public func octet(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * i)) }

    /// Lower-case, colon-separated, as ISC tools and tshark print it.
    public var description: String {
        var s = ""
        s.reserveCapacity(17)
        for i in 0..<6 {
            if i > 0 { s += ":" }
            let b = octet(i)
            s += hexDigits[Int(b >> 4)] + hexDigits[Int(b & 0xF)]
        }
        return s
    }

    /// Writes the six bytes at the writer's position.
    @inlinable
    public func write(to writer: inout WireWriter, _ field: StaticString) throws(WireError) {
        try writer.require(6, field)
        for i in 0..<6 { try writer.writeUInt8(octet(i), field) }
    }
}

private let hexDigits = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
