/// Names from presentation text ("www.maas.test") to wire form.
extension DNSName {
    /// Writes `text` as an uncompressed wire name and returns its length.
    ///
    /// Accepts a trailing dot or not; "." and "" are the root. Understands the escapes of
    /// RFC 1035 §5.1: `\X` for a literal X and `\DDD` for a byte in decimal.
    ///
    /// - Throws: `.invalidValue` for an empty label ("a..b") or a bad escape, `.limitExceeded`
    ///   for a label over 63 bytes or a name over 255, `.noSpace` if the writer is full. The
    ///   offset of a text error is the byte index in `text`.
    @discardableResult
    public static func write(text: some StringProtocol, to writer: inout WireWriter) throws(WireError) -> Int {
        let start = writer.count
        do throws(WireError) {
            return try writeUnchecked(text: text, to: &writer)
        } catch {
            writer.truncate(to: start)
            throw error
        }
    }

    private static func writeUnchecked(text: some StringProtocol, to writer: inout WireWriter) throws(WireError) -> Int {
        let field: StaticString = "dns.name.text"
        let start = writer.count
        let utf8 = Array(text.utf8)
        if utf8.isEmpty || utf8 == [UInt8(ascii: ".")] {
            try writer.writeUInt8(0, field)
            return 1
        }
        var index = 0
        var lengthOffset = writer.count
        var labelLength = 0
        try writer.writeUInt8(0, field)
        func closeLabel(at textIndex: Int, writer: inout WireWriter) throws(WireError) {
            guard labelLength > 0 else { throw WireError(.invalidValue, field, at: textIndex) }
            writer.patchUInt8(UInt8(labelLength), at: lengthOffset)
        }
        while index < utf8.count {
            var byte = utf8[index]
            if byte == UInt8(ascii: ".") {
                try closeLabel(at: index, writer: &writer)
                index += 1
                if index == utf8.count { break }
                lengthOffset = writer.count
                labelLength = 0
                try writer.writeUInt8(0, field)
                continue
            }
            if byte == UInt8(ascii: "\\") {
                guard index + 1 < utf8.count else { throw WireError(.invalidValue, field, at: index) }
                let next = utf8[index + 1]
                if next &- UInt8(ascii: "0") < 10 {
                    guard index + 3 < utf8.count else { throw WireError(.invalidValue, field, at: index) }
                    var value = 0
                    for digit in utf8[(index + 1)...(index + 3)] {
                        guard digit &- UInt8(ascii: "0") < 10 else { throw WireError(.invalidValue, field, at: index) }
                        value = value * 10 + Int(digit - UInt8(ascii: "0"))
                    }
                    guard value <= 255 else { throw WireError(.invalidValue, field, at: index) }
                    byte = UInt8(value)
                    index += 4
                } else {
                    byte = next
                    index += 2
                }
            } else {
                index += 1
            }
            labelLength += 1
            guard labelLength <= maxLabelLength else { throw WireError(.limitExceeded, field, at: index - 1) }
            try writer.writeUInt8(byte, field)
        }
        if labelLength > 0 { try closeLabel(at: index, writer: &writer) }
        try writer.writeUInt8(0, field)
        let length = writer.count - start
        guard length <= maxWireLength else {
            throw WireError(.limitExceeded, field, at: utf8.count)
        }
        return length
    }
}
