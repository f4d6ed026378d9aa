/// Connection options named in the Connection header (RFC 9110 §7.6.1); other tokens ignored.
public struct HTTPConnectionOptions: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let close = HTTPConnectionOptions(rawValue: 1)
    public static let keepAlive = HTTPConnectionOptions(rawValue: 2)
    public static let upgrade = HTTPConnectionOptions(rawValue: 4)
}

/// Typed accessors for the request fields the boot server acts on. Each validates only its own
/// field, so a malformed field the server does not use never fails a request.
extension HTTPRequestHead {
    /// Offset of a value view within the message, for errors.
    func offset(of value: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress, let p = value.baseAddress else { return 0 }
        return p - base
    }

    /// Content-Length, or nil if absent. RFC 9112 §6.3: a list of identical values (from
    /// repeated lines or "42, 42") may be taken as one; differing or non-numeric values make the
    /// message invalid — a framing error the server must answer with 400 and close.
    public func contentLength() throws(WireError) -> UInt64? {
        var result: UInt64?
        for field in headers.fields(named: "Content-Length") {
            var any = false
            for element in HTTPListElements(field.value) {
                guard let n = ASCII.decimal(element), result == nil || result == n else {
                    throw WireError(.invalidValue, "http.header.content_length", at: offset(of: element))
                }
                result = n
                any = true
            }
            guard any else { throw WireError(.invalidValue, "http.header.content_length", at: field.offset) }
        }
        return result
    }

    /// Host, or nil if absent. RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request)
    /// status code to any HTTP/1.1 request message that lacks a Host header field and to any
    /// request message that contains more than one Host header field line or a Host header
    /// field with an invalid field value." Absence is the caller's check (HTTP/1.0 may omit it).
    public func host() throws(WireError) -> UnsafeRawBufferPointer? {
        var found: UnsafeRawBufferPointer?
        for field in headers.fields(named: "Host") {
            guard found == nil else { throw WireError(.invalidValue, "http.header.host", at: field.offset) }
            // uri-host [ ":" port ]: reg-name, IPv4 or [IP-literal] characters only.
            for b in field.value {
                switch b {
                case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: continue
                case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"),
                     UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "!"), UInt8(ascii: "$"),
                     UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"),
                     UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
                    continue
                default:
                    throw WireError(.invalidValue, "http.header.host", at: field.offset)
                }
            }
            found = field.value
        }
        return found
    }

    /// The options of all Connection lines, matched case-insensitively.
    public var connection: HTTPConnectionOptions {
        var options: HTTPConnectionOptions = []
        for field in headers.fields(named: "Connection") {
            for token in HTTPListElements(field.value) {
                if ASCII.equalsIgnoringCase(token, "close") { options.insert(.close) }
                else if ASCII.equalsIgnoringCase(token, "keep-alive") { options.insert(.keepAlive) }
                else if ASCII.equalsIgnoringCase(token, "upgrade") { options.insert(.upgrade) }
            }
        }
        return options
    }

    /// Whether the connection stays open after the response (RFC 9112 §9.3): "close" ends it;
    /// otherwise HTTP/1.1 persists, and HTTP/1.0 persists only with "keep-alive".
    public var isPersistent: Bool {
        let options = connection
        if options.contains(.close) { return false }
        return version == .http1_1 || options.contains(.keepAlive)
    }

    /// The Range header's byte ranges; nil if absent or in a unit other than bytes. Throws if
    /// there is more than one Range line or the range-set is invalid (see `HTTPByteRanges.parse`).
    public func range(maxRanges: Int = 16) throws(WireError) -> HTTPByteRanges? {
        var fields = headers.fields(named: "Range")
        guard let field = fields.next() else { return nil }
        if let second = fields.next() { throw WireError(.invalidValue, "http.header.range", at: second.offset) }
        return try HTTPByteRanges.parse(field.value, at: offset(of: field.value), maxRanges: maxRanges)
    }

    /// If-None-Match, or nil if absent. Throws if a member is not an entity-tag or "*" is not
    /// alone (`If-None-Match = "*" / #entity-tag`).
    public func ifNoneMatch() throws(WireError) -> HTTPIfNoneMatch? {
        var lines = 0
        var star = false
        for field in headers.fields(named: "If-None-Match") {
            lines += 1
            if field.value.count == 1, field.value[0] == UInt8(ascii: "*") {
                star = true
                continue
            }
            var i = 0
            var tags = 0
            while try HTTPEntityTag.next(in: field.value, from: &i, at: offset(of: field.value)) != nil { tags += 1 }
            guard tags > 0 else { throw WireError(.invalidValue, "http.header.if_none_match", at: field.offset) }
        }
        if lines == 0 { return nil }
        if star {
            guard lines == 1 else { throw WireError(.invalidValue, "http.header.if_none_match", at: headersRange.lowerBound) }
            return .any
        }
        return .tags(HTTPEntityTagList(head: self))
    }

    /// If-Modified-Since as epoch seconds, or nil if absent. Throws if it is not one HTTP-date;
    /// RFC 9110 §13.1.3: "A recipient MUST ignore the If-Modified-Since header field if the
    /// received field value is not a valid HTTP-date, the field value has more than one member,
    /// or if the request method is neither GET nor HEAD" — so a caller treats a throw as absent.
    public func ifModifiedSince(now: Int64? = nil) throws(WireError) -> Int64? {
        var fields = headers.fields(named: "If-Modified-Since")
        guard let field = fields.next() else { return nil }
        if let second = fields.next() { throw WireError(.invalidValue, "http.header.if_modified_since", at: second.offset) }
        guard let t = HTTPDate.parse(field.value, now: now) else {
            throw WireError(.invalidValue, "http.header.if_modified_since", at: offset(of: field.value))
        }
        return t
    }
}
