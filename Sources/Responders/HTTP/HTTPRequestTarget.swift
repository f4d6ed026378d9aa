import Wire

/// Turns a request-target into a path relative to the files root, as pure byte logic: the
/// HTTP twin of `TFTPPathResolver`, which does the confining.
///
/// Order matters: the query is cut first (a "?" inside it names nothing), then `%XX` is
/// decoded, then the decoded bytes are confined. Decoding before confining is what makes
/// `/%2e%2e/etc/passwd` a ".." component like any other; confining first would let an encoded
/// ".." (or an encoded "/") through to the file system. Decoding happens exactly once, so
/// `%252e` is the three characters "%2e", a harmless file name.
public enum HTTPRequestTarget {
    /// Resolves `target` (as sent on the request line) into `output`, using `scratch` for the
    /// decoded bytes; both should hold `TFTPPathResolver.maximumPathLength + 1` bytes.
    public static func resolve(_ target: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer,
                               into output: UnsafeMutableRawBufferPointer) -> HTTPTargetResolution {
        var start = 0
        var end = target.count
        // absolute-form (RFC 9112 §3.2.2): "A server MUST accept the absolute-form in requests
        // even though most HTTP/1.1 clients will only send the absolute-form to a proxy." The
        // authority is not ours to check; the path after it is what counts.
        if let afterScheme = Self.afterScheme(target) {
            start = afterScheme
            while start < end, target[start] != slash { start += 1 }
            if start == end { return .refused(.empty) }
        } else {
            // origin-form = absolute-path [ "?" query ]; "*" and authority-form are for OPTIONS
            // and CONNECT, which are refused before a target is looked at.
            guard end > 0, target[0] == slash else { return .refused(.notOriginForm) }
        }
        for i in start..<end where target[i] == UInt8(ascii: "?") || target[i] == UInt8(ascii: "#") {
            end = i
            break
        }

        // RFC 3986 §2.1: pct-encoded = "%" HEXDIG HEXDIG; a "%" not followed by two hex digits
        // is not a URI, so the request is bad.
        var length = 0
        var i = start
        while i < end {
            var byte = target[i]
            if byte == UInt8(ascii: "%") {
                guard i + 2 < end, let high = ASCII.hexValue(target[i + 1]), let low = ASCII.hexValue(target[i + 2]) else {
                    return .refused(.badEncoding)
                }
                byte = high << 4 | low
                i += 3
            } else {
                i += 1
            }
            guard byte != 0 else { return .refused(.nulByte) }
            guard length < scratch.count, length < TFTPPathResolver.maximumPathLength else { return .refused(.tooLong) }
            scratch[length] = byte
            length += 1
        }

        switch TFTPPathResolver().resolve(UnsafeRawBufferPointer(rebasing: scratch[0..<length]), into: output) {
        case .path(let length, _):
            return .path(length: length)
        case .refused(let reason):
            switch reason {
            case .nulByte: return .refused(.nulByte)
            case .parentComponent, .symbolicLinkEscape: return .refused(.parentComponent)
            case .tooLong: return .refused(.tooLong)
            case .empty: return .refused(.empty)
            }
        }
    }

    /// `resolve` into a fresh array (tests): the path, or why not.
    public static func resolve(_ target: String) -> Result<String, HTTPTargetRefusal> {
        var output = [UInt8](repeating: 0, count: TFTPPathResolver.maximumPathLength + 1)
        var scratch = output
        var text = target
        let resolution = text.withUTF8 { t in
            scratch.withUnsafeMutableBytes { s in
                output.withUnsafeMutableBytes { o in resolve(UnsafeRawBufferPointer(t), scratch: s, into: o) }
            }
        }
        switch resolution {
        case .path(let length): return .success(String(decoding: output[0..<length], as: UTF8.self))
        case .refused(let reason): return .failure(reason)
        }
    }

    /// The offset after "http://" or "https://" (any case), or nil.
    private static func afterScheme(_ target: UnsafeRawBufferPointer) -> Int? {
        for scheme in ["http://", "https://"] as [StaticString] {
            let n = scheme.utf8CodeUnitCount
            if target.count >= n, ASCII.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: target[0..<n]), scheme) { return n }
        }
        return nil
    }

}

/// The outcome of `HTTPRequestTarget.resolve`.
public enum HTTPTargetResolution: Equatable, Sendable {
    /// `length` bytes of the output hold the root-relative path, followed by a NUL.
    case path(length: Int)
    case refused(HTTPTargetRefusal)
}

/// Why a target names no file. Stable names: they label counters and the access log.
public enum HTTPTargetRefusal: Int, Error, CaseIterable, Sendable {
    /// Not "/…" nor "http://host/…".
    case notOriginForm
    /// A "%" without two hex digits.
    case badEncoding
    /// "%00": no file name holds a NUL.
    case nulByte
    /// A ".." component, encoded or not: outside the root, or a lexical trick to get there.
    case parentComponent
    case tooLong
    /// "/" and the like: no directory listings.
    case empty

    public var name: String {
        switch self {
        case .notOriginForm: "not_origin_form"
        case .badEncoding: "bad_encoding"
        case .nulByte: "nul_byte"
        case .parentComponent: "parent_component"
        case .tooLong: "too_long"
        case .empty: "empty"
        }
    }

    /// 400 for what is not a valid URI path, 403 for an attempt to leave the root, 414 for a
    /// name longer than any file's, 404 for the root itself.
    public var status: HTTPStatus {
        switch self {
        case .notOriginForm, .badEncoding, .nulByte: .badRequest
        case .parentComponent: .forbidden
        case .tooLong: .uriTooLong
        case .empty: .notFound
        }
    }
}

private let slash = UInt8(ascii: "/")
