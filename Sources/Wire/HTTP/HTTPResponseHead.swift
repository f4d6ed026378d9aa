/// A response status code with its reason phrase.
public struct HTTPStatus: Sendable, Equatable {
    public let code: UInt16
    public let reason: StaticString

    public init(_ code: UInt16, _ reason: StaticString) {
        precondition((100...999).contains(code))
        self.code = code
        self.reason = reason
    }

    public static func == (lhs: HTTPStatus, rhs: HTTPStatus) -> Bool { lhs.code == rhs.code }

    public static let ok = HTTPStatus(200, "OK")
    public static let partialContent = HTTPStatus(206, "Partial Content")
    public static let notModified = HTTPStatus(304, "Not Modified")
    public static let badRequest = HTTPStatus(400, "Bad Request")
    public static let forbidden = HTTPStatus(403, "Forbidden")
    public static let notFound = HTTPStatus(404, "Not Found")
    public static let methodNotAllowed = HTTPStatus(405, "Method Not Allowed")
    public static let requestTimeout = HTTPStatus(408, "Request Timeout")
    public static let contentTooLarge = HTTPStatus(413, "Content Too Large")
    public static let uriTooLong = HTTPStatus(414, "URI Too Long")
    public static let rangeNotSatisfiable = HTTPStatus(416, "Range Not Satisfiable")
    public static let requestHeaderFieldsTooLarge = HTTPStatus(431, "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(500, "Internal Server Error")
    public static let notImplemented = HTTPStatus(501, "Not Implemented")
    public static let serviceUnavailable = HTTPStatus(503, "Service Unavailable")
    public static let httpVersionNotSupported = HTTPStatus(505, "HTTP Version Not Supported")
}

/// Encodes a response head into a caller's buffer: a status line, then header lines, then
/// `writeEnd`. No allocation; values are checked for CR, LF and NUL so that nothing a request
/// carried (an ETag, a content type) can split the response.
public enum HTTPResponseHead {
    /// "HTTP/1.1 206 Partial Content\r\n". Always HTTP/1.1: RFC 9110 §6.2 "A server SHOULD send
    /// a response version equal to the highest version to which the server is conformant that
    /// has a major version less than or equal to the one received in the request."
    public static func writeStatusLine(_ status: HTTPStatus, into writer: inout WireWriter) throws(WireError) {
        try writer.writeBytes("HTTP/1.1 ", "http.status_line")
        try writer.writeDecimal(UInt64(status.code), width: 3, "http.status_line")
        try writer.writeUInt8(HTTPSyntax.sp, "http.status_line")
        try writer.writeBytes(status.reason, "http.status_line")
        try writer.writeBytes("\r\n", "http.status_line")
    }

    /// "Name: value\r\n" with a constant value.
    public static func writeHeader(_ name: StaticString, _ value: StaticString, into writer: inout WireWriter) throws(WireError) {
        try writeHeader(name, value: UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount), into: &writer)
    }

    /// "Name: value\r\n"; refuses a value holding CR, LF, NUL or another control but HTAB.
    public static func writeHeader(_ name: StaticString, value: UnsafeRawBufferPointer, into writer: inout WireWriter) throws(WireError) {
        for (i, b) in value.enumerated() where !HTTPSyntax.isFieldValueChar(b) {
            throw WireError(.invalidValue, "http.header.value", at: writer.count + name.utf8CodeUnitCount + 2 + i)
        }
        try writer.require(name.utf8CodeUnitCount + 2 + value.count + 2, "http.header")
        try writeName(name, into: &writer)
        try writer.writeBytes(value, "http.header.value")
        try writer.writeBytes("\r\n", "http.header")
    }

    /// "Name: 12345\r\n".
    public static func writeHeader(_ name: StaticString, decimal: UInt64, into writer: inout WireWriter) throws(WireError) {
        let start = writer.count
        do throws(WireError) {
            try writeName(name, into: &writer)
            try writer.writeDecimal(decimal, "http.header.value")
            try writer.writeBytes("\r\n", "http.header")
        } catch {
            writer.truncate(to: start)
            throw error
        }
    }

    /// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" (RFC 9110 §6.6.1: an origin server with a clock
    /// "MUST generate a Date header field" in most responses).
    public static func writeDate(_ epochSeconds: Int64, into writer: inout WireWriter) throws(WireError) {
        try writeDateHeader("Date", epochSeconds, into: &writer)
    }

    public static func writeLastModified(_ epochSeconds: Int64, into writer: inout WireWriter) throws(WireError) {
        try writeDateHeader("Last-Modified", epochSeconds, into: &writer)
    }

    public static func writeContentLength(_ length: UInt64, into writer: inout WireWriter) throws(WireError) {
        try writeHeader("Content-Length", decimal: length, into: &writer)
    }

    /// "Content-Range: bytes first-last/size" for a 206 (RFC 9110 §14.4).
    public static func writeContentRange(_ range: ClosedRange<UInt64>, size: UInt64, into writer: inout WireWriter) throws(WireError) {
        let start = writer.count
        do throws(WireError) {
            try writeName("Content-Range", into: &writer)
            try writer.writeBytes("bytes ", "http.header.value")
            try writer.writeDecimal(range.lowerBound, "http.header.value")
            try writer.writeUInt8(UInt8(ascii: "-"), "http.header.value")
            try writer.writeDecimal(range.upperBound, "http.header.value")
            try writer.writeUInt8(UInt8(ascii: "/"), "http.header.value")
            try writer.writeDecimal(size, "http.header.value")
            try writer.writeBytes("\r\n", "http.header")
        } catch {
            writer.truncate(to: start)
            throw error
        }
    }

    /// "Content-Range: bytes */size" for a 416: "a server generating a 416 (Range Not
    /// Satisfiable) response to a byte-range request SHOULD send a Content-Range header field
    /// with an unsatisfied-range value" (RFC 9110 §14.4).
    public static func writeUnsatisfiedContentRange(size: UInt64, into writer: inout WireWriter) throws(WireError) {
        let start = writer.count
        do throws(WireError) {
            try writeName("Content-Range", into: &writer)
            try writer.writeBytes("bytes */", "http.header.value")
            try writer.writeDecimal(size, "http.header.value")
            try writer.writeBytes("\r\n", "http.header")
        } catch {
            writer.truncate(to: start)
            throw error
        }
    }

    /// "ETag: "opaque"" or "ETag: W/"opaque""; `opaque` must be etagc characters (no quote).
    public static func writeETag(opaque: UnsafeRawBufferPointer, weak: Bool = false, into writer: inout WireWriter) throws(WireError) {
        for (i, b) in opaque.enumerated() where b < 0x21 || b == UInt8(ascii: "\"") || b == 0x7F {
            throw WireError(.invalidValue, "http.etag", at: writer.count + i)
        }
        try writer.require(6 + (weak ? 2 : 0) + opaque.count + 4, "http.header")
        try writeName("ETag", into: &writer)
        if weak { try writer.writeBytes("W/", "http.etag") }
        try writer.writeUInt8(UInt8(ascii: "\""), "http.etag")
        try writer.writeBytes(opaque, "http.etag")
        try writer.writeUInt8(UInt8(ascii: "\""), "http.etag")
        try writer.writeBytes("\r\n", "http.header")
    }

    public static func writeContentType(_ type: StaticString, into writer: inout WireWriter) throws(WireError) {
        try writeHeader("Content-Type", type, into: &writer)
    }

    /// "Connection: close" or "Connection: keep-alive".
    public static func writeConnection(close: Bool, into writer: inout WireWriter) throws(WireError) {
        try writeHeader("Connection", close ? "close" : "keep-alive", into: &writer)
    }

    /// The empty line that ends the head.
    public static func writeEnd(into writer: inout WireWriter) throws(WireError) {
        try writer.writeBytes("\r\n", "http.head.end")
    }

    private static func writeName(_ name: StaticString, into writer: inout WireWriter) throws(WireError) {
        try writer.writeBytes(name, "http.header.name")
        try writer.writeBytes(": ", "http.header.name")
    }

    private static func writeDateHeader(_ name: StaticString, _ epochSeconds: Int64, into writer: inout WireWriter) throws(WireError) {
        let start = writer.count
        do throws(WireError) {
            try writeName(name, into: &writer)
            try HTTPDate.write(epochSeconds, into: &writer)
            try writer.writeBytes("\r\n", "http.header")
        } catch {
            writer.truncate(to: start)
            throw error
        }
    }
}
