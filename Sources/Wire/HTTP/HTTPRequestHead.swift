/// The protocol version of a request line. Only HTTP/1.0 and HTTP/1.1 are spoken; any other
/// version is a parse error the server answers with 505.
public enum HTTPVersion: Sendable, Equatable {
    case http1_0
    case http1_1

    public var name: StaticString {
        switch self {
        case .http1_0: "HTTP/1.0"
        case .http1_1: "HTTP/1.1"
        }
    }
}

/// Request methods (RFC 9110 §9). Methods are case-sensitive: "get" is `.other`.
public enum HTTPMethod: Sendable, Equatable {
    case get, head, post, put, delete, connect, options, trace, patch
    case other

    init(_ bytes: UnsafeRawBufferPointer) {
        if ASCII.equals(bytes, "GET") { self = .get }
        else if ASCII.equals(bytes, "HEAD") { self = .head }
        else if ASCII.equals(bytes, "POST") { self = .post }
        else if ASCII.equals(bytes, "PUT") { self = .put }
        else if ASCII.equals(bytes, "DELETE") { self = .delete }
        else if ASCII.equals(bytes, "CONNECT") { self = .connect }
        else if ASCII.equals(bytes, "OPTIONS") { self = .options }
        else if ASCII.equals(bytes, "TRACE") { self = .trace }
        else if ASCII.equals(bytes, "PATCH") { self = .patch }
        else { self = .other }
    }
}

/// Limits on a request head. Exceeding either is `.limitExceeded` on `"http.head.size"` or
/// `"http.header.count"`, which a server answers with 431 (RFC 6585 §5) rather than 400.
public struct HTTPHeadLimits: Sendable {
    /// Bytes from the first byte to the end of the empty line that ends the head.
    public var maxHeadSize: Int
    /// Header field lines.
    public var maxHeaderCount: Int

    public init(maxHeadSize: Int = 8192, maxHeaderCount: Int = 100) {
        self.maxHeadSize = maxHeadSize
        self.maxHeaderCount = maxHeaderCount
    }
}

/// The outcome of feeding the bytes received so far to `HTTPRequestHead.parse`.
public enum HTTPHeadParseResult {
    /// Everything so far is a valid prefix of a head; read more and call again.
    case incomplete
    /// A whole head; `head.length` bytes belong to it, the rest is body or the next request.
    case complete(HTTPRequestHead)
}

/// An HTTP/1.x request head (RFC 9112 §2–5): request line and header fields, as a view of
/// offsets into the caller's bytes.
///
/// `parse` validates every line once, so the header iteration and look-ups below cannot fail
/// and never allocate. Typed accessors (Range, If-None-Match, …) validate their own values.
public struct HTTPRequestHead {
    public let bytes: UnsafeRawBufferPointer
    /// Bytes of the head including the final empty line (and any empty lines before the
    /// request line); a pipelined request starts here.
    public let length: Int
    public let methodRange: Range<Int>
    public let targetRange: Range<Int>
    public let version: HTTPVersion
    /// Header field lines, from the first to the CRLF ending the last (empty if none).
    public let headersRange: Range<Int>
    public let headerCount: Int

    @inlinable public var methodBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[methodRange]) }
    public var method: HTTPMethod { HTTPMethod(methodBytes) }
    /// The request-target as sent (origin-form "/x?y", absolute-form, "*", or authority-form).
    @inlinable public var target: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[targetRange]) }
    public var headers: HTTPHeaderFields { HTTPHeaderFields(bytes: bytes, range: headersRange) }

    /// Parses the request head at the start of `bytes`, the data received so far.
    ///
    /// Returns `.incomplete` while `bytes` is a valid prefix of a head shorter than
    /// `limits.maxHeadSize`, so it can be called again with more bytes; throws as soon as a
    /// byte is wrong, so a bad request is refused without waiting for the rest. Line endings
    /// must be CRLF: RFC 9112 §2.2 lets a recipient accept a bare LF, but accepting it where a
    /// proxy in front does not is how requests are smuggled.
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: HTTPHeadLimits = HTTPHeadLimits()) throws(WireError) -> HTTPHeadParseResult {
        let end = min(bytes.count, limits.maxHeadSize)
        // Where to stop when input runs out: more may come, unless the size limit is reached.
        func outOfInput() throws(WireError) -> HTTPHeadParseResult {
            if bytes.count >= limits.maxHeadSize { throw WireError(.limitExceeded, "http.head.size", at: limits.maxHeadSize) }
            return .incomplete
        }
        var i = 0

        // RFC 9112 §2.2: "a server that is expecting to receive and parse a request-line SHOULD
        // ignore at least one empty line (CRLF) received prior to the request-line."
        while i < end, bytes[i] == HTTPSyntax.cr {
            guard i + 1 < end else { return try outOfInput() }
            guard bytes[i + 1] == HTTPSyntax.lf else { throw WireError(.invalidValue, "http.request.line", at: i + 1) }
            i += 2
        }

        // method = token
        let methodStart = i
        while i < end, bytes[i] != HTTPSyntax.sp {
            guard HTTPSyntax.isTokenChar(bytes[i]) else { throw WireError(.invalidValue, "http.request.method", at: i) }
            i += 1
        }
        guard i < end else { return try outOfInput() }
        guard i > methodStart else { throw WireError(.invalidValue, "http.request.method", at: i) }
        let methodRange = methodStart..<i
        i += 1

        // request-target: no whitespace or controls (RFC 9112 §3.2); non-ASCII must be
        // percent-encoded.
        let targetStart = i
        while i < end, bytes[i] != HTTPSyntax.sp {
            guard bytes[i] > 0x20, bytes[i] < 0x7F else { throw WireError(.invalidValue, "http.request.target", at: i) }
            i += 1
        }
        guard i < end else { return try outOfInput() }
        guard i > targetStart else { throw WireError(.invalidValue, "http.request.target", at: i) }
        let targetRange = targetStart..<i
        i += 1

        // HTTP-version, checked byte by byte so that a prefix is still "incomplete".
        let versionStart = i
        let prefix: StaticString = "HTTP/1."
        for k in 0..<prefix.utf8CodeUnitCount {
            guard i < end else { return try outOfInput() }
            guard bytes[i] == prefix.utf8Start[k] else { throw WireError(.invalidValue, "http.request.version", at: versionStart) }
            i += 1
        }
        guard i < end else { return try outOfInput() }
        let version: HTTPVersion
        switch bytes[i] {
        case UInt8(ascii: "0"): version = .http1_0
        case UInt8(ascii: "1"): version = .http1_1
        default: throw WireError(.invalidValue, "http.request.version", at: versionStart)
        }
        i += 1
        guard i < end else { return try outOfInput() }
        guard bytes[i] == HTTPSyntax.cr else { throw WireError(.invalidValue, "http.request.version", at: versionStart) }
        i += 1
        guard i < end else { return try outOfInput() }
        guard bytes[i] == HTTPSyntax.lf else { throw WireError(.invalidValue, "http.request.line", at: i) }
        i += 1

        // *( field-line CRLF ) CRLF
        guard let fields = try HTTPSyntax.scanFieldSection(bytes, from: i, end: end, maxHeaderCount: limits.maxHeaderCount) else {
            return try outOfInput()
        }
        return .complete(HTTPRequestHead(
            bytes: bytes, length: fields.length, methodRange: methodRange, targetRange: targetRange,
            version: version, headersRange: fields.fields, headerCount: fields.count))
    }
}

/// One header field line: name as sent, value without surrounding whitespace.
public struct HTTPHeaderField {
    public let name: UnsafeRawBufferPointer
    public let value: UnsafeRawBufferPointer
    /// Offset of the line in the message, for errors about the value.
    public let offset: Int
}

/// The header field lines of a parsed head, in order, iterated lazily.
public struct HTTPHeaderFields: Sequence {
    public let bytes: UnsafeRawBufferPointer
    public let range: Range<Int>

    public struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        var offset: Int
        let end: Int

        public mutating func next() -> HTTPHeaderField? {
            guard offset < end else { return nil }
            let lineStart = offset
            while bytes[offset] != UInt8(ascii: ":") { offset += 1 }
            let name = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<offset])
            offset += 1
            let valueStart = offset
            while bytes[offset] != HTTPSyntax.cr { offset += 1 }
            let value = HTTPSyntax.trimmed(UnsafeRawBufferPointer(rebasing: bytes[valueStart..<offset]))
            offset += 2
            return HTTPHeaderField(name: name, value: value, offset: lineStart)
        }
    }

    public func makeIterator() -> Iterator { Iterator(bytes: bytes, offset: range.lowerBound, end: range.upperBound) }

    /// The value of the first field named `name` (RFC 9110 §5.1: "Field names are
    /// case-insensitive"), or nil.
    public func first(named name: StaticString) -> UnsafeRawBufferPointer? {
        for field in self where ASCII.equalsIgnoringCase(field.name, name) { return field.value }
        return nil
    }

    /// Every field named `name`, in order.
    public func fields(named name: StaticString) -> HTTPNamedFields {
        HTTPNamedFields(fields: makeIterator(), name: name)
    }

    /// How many lines carry `name`.
    public func count(named name: StaticString) -> Int {
        var n = 0
        for field in self where ASCII.equalsIgnoringCase(field.name, name) { n += 1 }
        return n
    }
}

/// The lines of one field name, iterated lazily.
public struct HTTPNamedFields: Sequence, IteratorProtocol {
    var fields: HTTPHeaderFields.Iterator
    let name: StaticString

    public mutating func next() -> HTTPHeaderField? {
        while let field = fields.next() {
            if ASCII.equalsIgnoringCase(field.name, name) { return field }
        }
        return nil
    }
}
