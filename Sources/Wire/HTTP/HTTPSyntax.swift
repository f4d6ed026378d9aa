/// Character classes of RFC 9110 §5.6 used by the HTTP parsers.
enum HTTPSyntax {
    /// Where a head's field section ended: the fields' bytes, the head's whole length (through
    /// the empty line) and how many field lines there were.
    struct FieldSection {
        var fields: Range<Int>
        var length: Int
        var count: Int
    }

    /// `*( field-line CRLF ) CRLF` from `start` (RFC 9112 §5), shared by the request and the
    /// response parsers; nil when the input ends first (the caller tells "incomplete" from
    /// "over its size limit").
    @inline(__always)
    static func scanFieldSection(_ bytes: UnsafeRawBufferPointer, from start: Int, end: Int, maxHeaderCount: Int) throws(WireError) -> FieldSection? {
        var i = start
        var count = 0
        while true {
            guard i < end else { return nil }
            let lineStart = i
            if bytes[i] == cr {
                guard i + 1 < end else { return nil }
                guard bytes[i + 1] == lf else { throw WireError(.invalidValue, "http.header.line", at: i + 1) }
                return FieldSection(fields: start..<lineStart, length: i + 2, count: count)
            }
            if isWhitespace(bytes[i]) {
                // RFC 9112 §5.2: a server receiving obs-fold "MUST either reject the message by
                // sending a 400 (Bad Request) ... or replace each received obs-fold with one or
                // more SP". We reject; §2.2 allows the same for whitespace before the first field.
                throw WireError(.invalidValue, count == 0 ? "http.header.leading_whitespace" : "http.header.obs_fold", at: i)
            }
            count += 1
            guard count <= maxHeaderCount else { throw WireError(.limitExceeded, "http.header.count", at: lineStart) }
            // field-name = token, then ":" with no whitespace before it (RFC 9112 §5.1: "MUST
            // respond with a 400").
            while i < end, bytes[i] != UInt8(ascii: ":") {
                guard isTokenChar(bytes[i]) else { throw WireError(.invalidValue, "http.header.name", at: i) }
                i += 1
            }
            guard i < end else { return nil }
            guard i > lineStart else { throw WireError(.invalidValue, "http.header.name", at: i) }
            i += 1
            while i < end, bytes[i] != cr {
                guard isFieldValueChar(bytes[i]) else { throw WireError(.invalidValue, "http.header.value", at: i) }
                i += 1
            }
            guard i + 1 < end else { return nil }
            guard bytes[i + 1] == lf else { throw WireError(.invalidValue, "http.header.line", at: i + 1) }
            i += 2
        }
    }

    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    @inline(__always)
    static func isTokenChar(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
        default: false
        }
    }

    /// field-vchar / SP / HTAB: VCHAR, obs-text (0x80–0xFF), SP, HTAB. Everything else —
    /// NUL, bare CR, bare LF, other controls, DEL — is refused (RFC 9110 §5.5).
    @inline(__always)
    static func isFieldValueChar(_ b: UInt8) -> Bool {
        (b >= 0x20 && b != 0x7F) || b == htab
    }

    @inline(__always)
    static func isWhitespace(_ b: UInt8) -> Bool { b == sp || b == htab }

    /// `bytes` without leading and trailing OWS.
    static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, isWhitespace(bytes[start]) { start += 1 }
        while end > start, isWhitespace(bytes[end - 1]) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }
}

/// Splits a comma-separated field value (RFC 9110 §5.6.1 `#rule`) into trimmed elements,
/// skipping empty ones: "a recipient MUST parse and ignore a reasonable number of empty list
/// elements". Not for values whose elements may contain commas in quotes (ETags).
struct HTTPListElements: Sequence, IteratorProtocol {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func next() -> UnsafeRawBufferPointer? {
        while offset < bytes.count {
            let start = offset
            while offset < bytes.count, bytes[offset] != UInt8(ascii: ",") { offset += 1 }
            let element = HTTPSyntax.trimmed(UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
            offset += 1
            if !element.isEmpty { return element }
        }
        return nil
    }
}
