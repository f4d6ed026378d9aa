/// The outcome of feeding the bytes received so far to `HTTPResponseView.parse`.
public enum HTTPResponseParseResult {
    /// Everything so far is a valid prefix of a response head; read more and call again.
    case incomplete
    /// A whole head; `view.length` bytes belong to it, the rest is body.
    case complete(HTTPResponseView)
}

/// An HTTP/1.x response head (RFC 9112 §4): status line and header fields, as offsets into the
/// caller's bytes — what a client (the load generator, capture replay) reads back from a server.
///
/// The same discipline as `HTTPRequestHead`: one validating pass, after which the header
/// iteration cannot fail and never allocates. Line endings must be CRLF.
public struct HTTPResponseView {
    public let bytes: UnsafeRawBufferPointer
    /// Bytes of the head including the empty line that ends it; the body starts here.
    public let length: Int
    public let version: HTTPVersion
    /// The three-digit status code (100–999).
    public let status: UInt16
    /// The reason phrase as sent (may be empty).
    public let reasonRange: Range<Int>
    public let headersRange: Range<Int>
    public let headerCount: Int

    @inlinable public var reason: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[reasonRange]) }
    public var headers: HTTPHeaderFields { HTTPHeaderFields(bytes: bytes, range: headersRange) }

    /// Parses the response head at the start of `bytes`, the data received so far.
    ///
    /// Returns `.incomplete` while `bytes` is a valid prefix shorter than `limits.maxHeadSize`;
    /// throws at the first wrong byte. RFC 9112 §4: "A client SHOULD ignore the reason-phrase
    /// content", so any field-value text is accepted there, and a missing SP before an empty
    /// reason is tolerated.
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: HTTPHeadLimits = HTTPHeadLimits()) throws(WireError) -> HTTPResponseParseResult {
        let end = min(bytes.count, limits.maxHeadSize)
        func outOfInput() throws(WireError) -> HTTPResponseParseResult {
            if bytes.count >= limits.maxHeadSize { throw WireError(.limitExceeded, "http.head.size", at: limits.maxHeadSize) }
            return .incomplete
        }
        var i = 0
        let prefix: StaticString = "HTTP/1."
        for k in 0..<prefix.utf8CodeUnitCount {
            guard i < end else { return try outOfInput() }
            guard bytes[i] == prefix.utf8Start[k] else { throw WireError(.invalidValue, "http.response.version", at: 0) }
            i += 1
        }
        guard i < end else { return try outOfInput() }
        let version: HTTPVersion
        switch bytes[i] {
        case UInt8(ascii: "0"): version = .http1_0
        case UInt8(ascii: "1"): version = .http1_1
        default: throw WireError(.invalidValue, "http.response.version", at: 0)
        }
        i += 1
        guard i < end else { return try outOfInput() }
        guard bytes[i] == HTTPSyntax.sp else { throw WireError(.invalidValue, "http.response.version", at: i) }
        i += 1

        // status-code = 3DIGIT
        var status: UInt16 = 0
        for _ in 0..<3 {
            guard i < end else { return try outOfInput() }
            guard ASCII.isDigit(bytes[i]) else { throw WireError(.invalidValue, "http.response.status", at: i) }
            status = status * 10 + UInt16(bytes[i] - UInt8(ascii: "0"))
            i += 1
        }
        guard status >= 100 else { throw WireError(.invalidValue, "http.response.status", at: i - 3) }
        guard i < end else { return try outOfInput() }
        var reasonStart = i
        if bytes[i] == HTTPSyntax.sp {
            i += 1
            reasonStart = i
            while i < end, bytes[i] != HTTPSyntax.cr {
                guard HTTPSyntax.isFieldValueChar(bytes[i]) else { throw WireError(.invalidValue, "http.response.reason", at: i) }
                i += 1
            }
        } else if bytes[i] != HTTPSyntax.cr {
            throw WireError(.invalidValue, "http.response.status", at: i)
        }
        let reasonRange = reasonStart..<i
        guard i + 1 < end else { return try outOfInput() }
        guard bytes[i + 1] == HTTPSyntax.lf else { throw WireError(.invalidValue, "http.response.line", at: i + 1) }
        i += 2

        guard let fields = try HTTPSyntax.scanFieldSection(bytes, from: i, end: end, maxHeaderCount: limits.maxHeaderCount) else {
            return try outOfInput()
        }
        return .complete(HTTPResponseView(
            bytes: bytes, length: fields.length, version: version, status: status, reasonRange: reasonRange,
            headersRange: fields.fields, headerCount: fields.count))
    }

    /// Content-Length, or nil if absent; identical repeated values are one (RFC 9112 §6.3),
    /// differing or non-numeric ones throw.
    public func contentLength() throws(WireError) -> UInt64? {
        var result: UInt64?
        for field in headers.fields(named: "Content-Length") {
            var any = false
            for element in HTTPListElements(field.value) {
                guard let n = ASCII.decimal(element), result == nil || result == n else {
                    throw WireError(.invalidValue, "http.header.content_length", at: field.offset)
                }
                result = n
                any = true
            }
            guard any else { throw WireError(.invalidValue, "http.header.content_length", at: field.offset) }
        }
        return result
    }

    /// Whether a Transfer-Encoding line is present (the body is then chunked, not counted).
    public var hasTransferEncoding: Bool { headers.first(named: "Transfer-Encoding") != nil }

    /// Whether the server keeps the connection open after this response (RFC 9112 §9.3).
    public var isPersistent: Bool {
        var close = false
        var keepAlive = false
        for field in headers.fields(named: "Connection") {
            for token in HTTPListElements(field.value) {
                if ASCII.equalsIgnoringCase(token, "close") { close = true }
                if ASCII.equalsIgnoringCase(token, "keep-alive") { keepAlive = true }
            }
        }
        if close { return false }
        return version == .http1_1 || keepAlive
    }

    /// RFC 9112 §6.3: responses to HEAD, 1xx, 204 and 304 have no body whatever the headers say.
    public func hasBody(requestWasHead: Bool) -> Bool {
        !(requestWasHead || status < 200 || status == 204 || status == 304)
    }
}
