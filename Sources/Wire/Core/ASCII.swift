/// Byte-level ASCII helpers for text protocols (TFTP strings, HTTP heads): case-insensitive
/// comparison and decimal numbers, over borrowed bytes and without allocation.
public enum ASCII {
    /// `b` folded to lower case if it is an ASCII upper-case letter; other bytes unchanged.
    @inlinable
    public static func lowercased(_ b: UInt8) -> UInt8 {
        b &- 0x41 < 26 ? b | 0x20 : b
    }

    @inlinable
    public static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    /// The value of a hexadecimal digit (either case), or nil.
    @inlinable
    public static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// True if `bytes` equals `literal` ignoring ASCII case. `literal` should be ASCII.
    @inlinable
    public static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard bytes.count == n else { return false }
        let p = literal.utf8Start
        for i in 0..<n where lowercased(bytes[i]) != lowercased(p[i]) { return false }
        return true
    }

    /// True if `bytes` equals `other` ignoring ASCII case.
    @inlinable
    public static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ other: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == other.count else { return false }
        for i in 0..<bytes.count where lowercased(bytes[i]) != lowercased(other[i]) { return false }
        return true
    }

    /// True if `bytes` equals `literal` exactly.
    @inlinable
    public static func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard bytes.count == n else { return false }
        let p = literal.utf8Start
        for i in 0..<n where bytes[i] != p[i] { return false }
        return true
    }

    /// The unsigned decimal number spelled by all of `bytes`: one or more digits, nothing else
    /// (no sign, no spaces). Nil if empty, not all digits, or above `maximum`.
    @inlinable
    public static func decimal(_ bytes: UnsafeRawBufferPointer, maximum: UInt64 = .max) -> UInt64? {
        guard !bytes.isEmpty else { return nil }
        var v: UInt64 = 0
        for b in bytes {
            guard isDigit(b) else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(b &- 0x30))
            guard !o1, !o2, s <= maximum else { return nil }
            v = s
        }
        return v
    }
}

extension WireWriter {
    /// Writes `value` as decimal ASCII digits, without leading zeros (at least one digit).
    @inlinable
    public mutating func writeDecimal(_ value: UInt64, _ field: StaticString) throws(WireError) {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        try require(digits, field)
        var v = value
        var i = count + digits - 1
        while true {
            buffer[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
            v /= 10
            if i == count { break }
            i -= 1
        }
        count += digits
    }

    /// Writes `value` as exactly `width` decimal digits, zero-padded (dates: "06", "1994").
    @inlinable
    public mutating func writeDecimal(_ value: UInt64, width: Int, _ field: StaticString) throws(WireError) {
        try require(width, field)
        var v = value
        var i = count + width - 1
        while i >= count {
            buffer[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
            v /= 10
            i -= 1
        }
        count += width
    }
}
