import Wire

/// What the policy needs to know of a file: `fstat` of the descriptor that will be sent, so the
/// validators describe exactly the bytes that go out.
public struct HTTPFileMetadata: Equatable, Sendable {
    public var size: UInt64
    public var inode: UInt64
    /// Modification time: epoch seconds and the nanoseconds within that second.
    public var modifiedSeconds: Int64
    public var modifiedNanoseconds: Int64

    public init(size: UInt64, inode: UInt64, modifiedSeconds: Int64, modifiedNanoseconds: Int64 = 0) {
        self.size = size
        self.inode = inode
        self.modifiedSeconds = modifiedSeconds
        self.modifiedNanoseconds = modifiedNanoseconds
    }

    /// Longest opaque-tag `writeEntityTag` produces: three 16-digit hex numbers and two dashes.
    public static let maximumEntityTagLength = 50

    /// The strong entity-tag's opaque part, `<inode>-<size>-<mtime ns>` in lower-case hex,
    /// written into `output`; returns its length. Strong because a file replaced or rewritten
    /// changes at least one of the three (an in-place rewrite of the same size within one
    /// nanosecond tick is the accepted blind spot, as for nginx's mtime-size tags).
    public func writeEntityTag(into output: UnsafeMutableRawBufferPointer) -> Int {
        var n = 0
        func hex(_ value: UInt64) {
            var shift = 60
            while shift > 0, (value >> UInt64(shift)) & 0xF == 0 { shift -= 4 }
            while shift >= 0 {
                output[n] = hexDigits[Int((value >> UInt64(shift)) & 0xF)]
                n += 1
                shift -= 4
            }
        }
        hex(inode)
        output[n] = UInt8(ascii: "-")
        n += 1
        hex(size)
        output[n] = UInt8(ascii: "-")
        n += 1
        hex(UInt64(bitPattern: modifiedSeconds &* 1_000_000_000 &+ modifiedNanoseconds))
        return n
    }

    /// The opaque-tag as text (tests).
    public var entityTag: String {
        var bytes = [UInt8](repeating: 0, count: Self.maximumEntityTagLength)
        let n = bytes.withUnsafeMutableBytes { writeEntityTag(into: $0) }
        return String(decoding: bytes[0..<n], as: UTF8.self)
    }

    /// Last-Modified to send: "An origin server with a clock MUST NOT generate a Last-Modified
    /// date that is later than the server's time of message origination (Date)" (RFC 9110
    /// §8.8.2.1) — a file stamped in the future is sent as modified now.
    public func lastModified(now: Int64) -> Int64 { min(modifiedSeconds, now) }
}

/// The answer to a GET or HEAD of a file, before any bytes are written.
public enum HTTPFileVerdict: Equatable, Sendable {
    /// 200 with the whole file.
    case whole
    /// 206 with one range.
    case partial(ClosedRange<UInt64>)
    /// 304: the client's copy is current.
    case notModified
    /// 416: no requested range overlaps the file.
    case rangeNotSatisfiable

    public var status: HTTPStatus {
        switch self {
        case .whole: .ok
        case .partial: .partialContent
        case .notModified: .notModified
        case .rangeNotSatisfiable: .rangeNotSatisfiable
        }
    }
}

/// Where the body comes from once the head is written: `length` bytes of the file from
/// `offset` (zero for HEAD, 304 and 416).
public struct HTTPFileBody: Equatable, Sendable {
    public var offset: UInt64
    public var length: UInt64

    public init(offset: UInt64, length: UInt64) {
        self.offset = offset
        self.length = length
    }
}

/// File responses as `(request head, file metadata, clock) → verdict`, then the head written
/// into a buffer it is given. No I/O.
public enum HTTPFilePolicy {
    /// Evaluates conditionals and Range in the order of RFC 9110 §13.2.2 (If-Match and
    /// If-Unmodified-Since are not supported: they guard writes, and nothing here is written).
    ///
    /// - If-None-Match: "if the field value is "*" or an entity tag ... matches ... respond 304
    ///   (Not Modified) if the request method is GET or HEAD".
    /// - "When the method is GET or HEAD, If-None-Match is not present, and If-Modified-Since is
    ///   present, evaluate the If-Modified-Since precondition": 304 when the file was modified
    ///   no later than the date. An invalid date, or one later than our clock, is ignored
    ///   (§13.1.3: "A date which is later than the server's current time is invalid").
    /// - Range, for GET only (§14.2: "GET is the only method for which range handling is
    ///   defined"), and only while If-Range holds. An invalid Range is ignored, as §14.2 allows.
    ///   One satisfiable range is a 206; none is a 416; several are answered with the whole
    ///   file, a correct 200 that saves building multipart/byteranges.
    public static func evaluate(_ head: HTTPRequestHead, file: HTTPFileMetadata, now: Int64) -> HTTPFileVerdict {
        let method = head.method
        return withUnsafeTemporaryAllocation(byteCount: HTTPFileMetadata.maximumEntityTagLength, alignment: 1) { tag -> HTTPFileVerdict in
            let tagLength = file.writeEntityTag(into: tag)
            let opaque = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tag)[0..<tagLength])
            if let condition = try? head.ifNoneMatch() {
                if condition.matches(opaque: opaque) { return .notModified }
            } else if let since = (try? head.ifModifiedSince(now: now)) ?? nil, since <= now,
                      file.modifiedSeconds <= since {
                return .notModified
            }
            guard method == .get, let ranges = (try? head.range()) ?? nil, ifRangeHolds(head, opaque: opaque, file: file, now: now) else {
                return .whole
            }
            var satisfiable = ranges.satisfiable(size: file.size)
            guard let first = satisfiable.next() else { return .rangeNotSatisfiable }
            return satisfiable.next() == nil ? .partial(first) : .whole
        }
    }

    /// RFC 9110 §13.1.5: an If-Range entity-tag must match strongly ("W/" never does); a date
    /// must equal Last-Modified exactly. Anything else means "send the whole representation".
    static func ifRangeHolds(_ head: HTTPRequestHead, opaque: UnsafeRawBufferPointer, file: HTTPFileMetadata, now: Int64) -> Bool {
        guard let value = head.headers.first(named: "If-Range") else { return true }
        if value.count >= 2, value[0] == UInt8(ascii: "\""), value[value.count - 1] == UInt8(ascii: "\"") {
            return UnsafeRawBufferPointer(rebasing: value[1..<(value.count - 1)]).elementsEqual(opaque)
        }
        guard let date = HTTPDate.parse(value, now: now) else { return false }
        return date == file.lastModified(now: now)
    }

    /// Writes the head for `verdict` and returns the part of the file to send after it.
    /// `persistent` is whether the connection stays open (`HTTPRequestHead.isPersistent`
    /// and the server's own reasons).
    public static func writeHead(_ verdict: HTTPFileVerdict, method: HTTPMethod, file: HTTPFileMetadata,
                                 contentType: StaticString, now: Int64, persistent: Bool,
                                 into writer: inout WireWriter) throws(WireError) -> HTTPFileBody {
        try HTTPResponseHead.writeStatusLine(verdict.status, into: &writer)
        try HTTPResponseHead.writeDate(now, into: &writer)
        var body = HTTPFileBody(offset: 0, length: 0)
        // RFC 9110 §15.4.5: a 304 "MUST generate ... ETag" among the fields a 200 would carry;
        // it has no content, so no Content-Length.
        if verdict != .rangeNotSatisfiable { try writeValidators(file, now: now, into: &writer) }
        switch verdict {
        case .whole:
            try HTTPResponseHead.writeContentType(contentType, into: &writer)
            try HTTPResponseHead.writeContentLength(file.size, into: &writer)
            body.length = file.size
        case .partial(let range):
            try HTTPResponseHead.writeContentType(contentType, into: &writer)
            try HTTPResponseHead.writeContentRange(range, size: file.size, into: &writer)
            try HTTPResponseHead.writeContentLength(range.upperBound - range.lowerBound + 1, into: &writer)
            body = HTTPFileBody(offset: range.lowerBound, length: range.upperBound - range.lowerBound + 1)
        case .notModified:
            break
        case .rangeNotSatisfiable:
            try HTTPResponseHead.writeUnsatisfiedContentRange(size: file.size, into: &writer)
            try HTTPResponseHead.writeContentLength(0, into: &writer)
        }
        if verdict != .notModified { try HTTPResponseHead.writeHeader("Accept-Ranges", "bytes", into: &writer) }
        try HTTPResponseHead.writeConnection(close: !persistent, into: &writer)
        try HTTPResponseHead.writeEnd(into: &writer)
        // HEAD: "the server MUST NOT send content in the response" (RFC 9110 §9.3.2), but the
        // fields are those of the GET.
        if method == .head { body.length = 0 }
        return body
    }

    private static func writeValidators(_ file: HTTPFileMetadata, now: Int64, into writer: inout WireWriter) throws(WireError) {
        try HTTPResponseHead.writeLastModified(file.lastModified(now: now), into: &writer)
        try withUnsafeTemporaryAllocation(byteCount: HTTPFileMetadata.maximumEntityTagLength, alignment: 1) { tag throws(WireError) in
            let n = file.writeEntityTag(into: tag)
            try HTTPResponseHead.writeETag(opaque: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tag)[0..<n]), into: &writer)
        }
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
