import Wire

/// Whether a request is served, decided from its head alone, before any path or file.
public enum HTTPRequestVerdict: Equatable, Sendable {
    /// A GET or HEAD to look up. `persistent`: the connection may carry another request.
    case serve(HTTPMethod, persistent: Bool)
    /// Answer with this status (and a short text body).
    case refuse(HTTPStatus, persistent: Bool)
}

/// The image server's request rules and its small generated responses (errors and rendered
/// boot configs). Pure: `(head) → verdict`, and writers into a caller's buffer.
public enum HTTPRequestPolicy {
    /// GET and HEAD only; framing and Host checked as RFC 9112 asks.
    ///
    /// A request with content is answered and then the connection is closed rather than the
    /// content read and thrown away: no boot client sends any, and not reading it means it can
    /// never be mistaken for the next request (RFC 9112 §9.6 lets a server close after any
    /// response with "Connection: close").
    public static func admit(_ head: HTTPRequestHead) -> HTTPRequestVerdict {
        // RFC 9112 §6.1: "A server that receives a request message with a transfer coding it
        // does not understand SHOULD respond with 501 (Not Implemented)" — and without
        // decoding chunked, the next request's start is unknown, so close.
        if head.headers.first(named: "Transfer-Encoding") != nil { return .refuse(.notImplemented, persistent: false) }
        let contentLength: UInt64?
        do {
            contentLength = try head.contentLength()
        } catch {
            // RFC 9112 §6.3: an invalid Content-Length is "an unrecoverable error"; "the server
            // MUST respond with a 400 (Bad Request) status code and then close the connection".
            return .refuse(.badRequest, persistent: false)
        }
        // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
        // HTTP/1.1 request message that lacks a Host header field and to any request message
        // that contains more than one Host header field line or a Host header field with an
        // invalid field value."
        do {
            if try head.host() == nil, head.version == .http1_1 { return .refuse(.badRequest, persistent: false) }
        } catch {
            return .refuse(.badRequest, persistent: false)
        }
        let persistent = head.isPersistent && (contentLength ?? 0) == 0
        let method = head.method
        guard method == .get || method == .head else { return .refuse(.methodNotAllowed, persistent: persistent) }
        return .serve(method, persistent: persistent)
    }

    /// The status for a head that did not parse: 431 for the size and count limits (RFC 6585
    /// §5); 505 for a well-formed version other than 1.0 and 1.1 ("HTTP/2.0", "HTTP/1.2": RFC
    /// 9110 §15.6.6); 400 for the rest, a malformed version ("HTTP/1.1" ended by a bare LF)
    /// included. `bytes` are those given to the parser.
    public static func status(for error: WireError, in bytes: UnsafeRawBufferPointer) -> HTTPStatus {
        if error.reason == .limitExceeded { return .requestHeaderFieldsTooLarge }
        if isVersionError(error), isWellFormedVersion(bytes, at: error.offset) { return .httpVersionNotSupported }
        return .badRequest
    }

    private static func isVersionError(_ error: WireError) -> Bool {
        let field: StaticString = "http.request.version"
        guard error.field.utf8CodeUnitCount == field.utf8CodeUnitCount else { return false }
        for i in 0..<field.utf8CodeUnitCount where error.field.utf8Start[i] != field.utf8Start[i] { return false }
        return true
    }

    /// HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF (RFC 9112 §2.3).
    private static func isWellFormedVersion(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        guard offset >= 0, bytes.count >= offset + 10 else { return false }
        let v = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 10)])
        return ASCII.equals(UnsafeRawBufferPointer(rebasing: v[0..<5]), "HTTP/") && ASCII.isDigit(v[5])
            && v[6] == UInt8(ascii: ".") && ASCII.isDigit(v[7]) && v[8] == 0x0D && v[9] == 0x0A
    }

    /// An error response with a one-line text body ("404 Not Found\n"); 405 carries Allow
    /// ("The origin server MUST generate an Allow header field in a 405", RFC 9110 §15.5.6).
    /// For HEAD the body is left out but Content-Length still counts it. Returns the bytes
    /// written.
    @discardableResult
    public static func writeError(_ status: HTTPStatus, method: HTTPMethod, persistent: Bool, now: Int64,
                                  into writer: inout WireWriter) throws(WireError) -> Int {
        let start = writer.count
        let bodyLength = 3 + 1 + status.reason.utf8CodeUnitCount + 1
        try HTTPResponseHead.writeStatusLine(status, into: &writer)
        try HTTPResponseHead.writeDate(now, into: &writer)
        if status == .methodNotAllowed { try HTTPResponseHead.writeHeader("Allow", "GET, HEAD", into: &writer) }
        try HTTPResponseHead.writeContentType("text/plain", into: &writer)
        try HTTPResponseHead.writeContentLength(UInt64(bodyLength), into: &writer)
        try HTTPResponseHead.writeConnection(close: !persistent, into: &writer)
        try HTTPResponseHead.writeEnd(into: &writer)
        if method != .head {
            try writer.writeDecimal(UInt64(status.code), width: 3, "http.body")
            try writer.writeUInt8(0x20, "http.body")
            try writer.writeBytes(status.reason, "http.body")
            try writer.writeUInt8(0x0A, "http.body")
        }
        return writer.count - start
    }

    /// The head of a 200 for generated content (a rendered boot config): text, never cached —
    /// it follows the machine's purpose, which changes with the tables. Range and conditionals
    /// are ignored for it (a 200 of the whole body is always a correct answer).
    public static func writeGeneratedHead(length: Int, persistent: Bool, now: Int64,
                                          into writer: inout WireWriter) throws(WireError) {
        try HTTPResponseHead.writeStatusLine(.ok, into: &writer)
        try HTTPResponseHead.writeDate(now, into: &writer)
        try HTTPResponseHead.writeContentType("text/plain", into: &writer)
        try HTTPResponseHead.writeContentLength(UInt64(length), into: &writer)
        try HTTPResponseHead.writeHeader("Cache-Control", "no-store", into: &writer)
        try HTTPResponseHead.writeConnection(close: !persistent, into: &writer)
        try HTTPResponseHead.writeEnd(into: &writer)
    }
}
