import Wire

/// Properties of the HTTP response-head parser (`HTTPResponseView`), which the load generator
/// and capture replay read servers' answers with; run by the `FuzzHTTPResponse` target.
public enum HTTPResponseChecks {
    enum Outcome: Equatable, CustomStringConvertible {
        case incomplete
        case failed(WireError)
        case complete(length: Int, status: UInt16, version: HTTPVersion, reason: Range<Int>, headers: Range<Int>, count: Int)

        var description: String {
            switch self {
            case .incomplete: "incomplete"
            case .failed(let error): "error \(error)"
            case .complete(let length, let status, let version, let reason, let headers, let count):
                "complete(length \(length), \(version.name) \(status), reason \(reason), headers \(headers) ×\(count))"
            }
        }
    }

    static let limitSets = [HTTPHeadLimits(), HTTPHeadLimits(maxHeadSize: 80, maxHeaderCount: 2)]

    /// Parses the first `count` bytes from a copy of exactly that size (a read past them is an
    /// AddressSanitizer report).
    static func outcome(_ bytes: UnsafeRawBufferPointer, count: Int, limits: HTTPHeadLimits) -> Outcome {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
        defer { copy.deallocate() }
        if count > 0 { copy.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<count])) }
        do throws(WireError) {
            switch try HTTPResponseView.parse(UnsafeRawBufferPointer(copy), limits: limits) {
            case .incomplete: return .incomplete
            case .complete(let view):
                if let violation = exercise(view) { fatalError("HTTPResponseChecks: \(violation)") }
                return .complete(length: view.length, status: view.status, version: view.version, reason: view.reasonRange,
                                 headers: view.headersRange, count: view.headerCount)
            }
        } catch {
            return .failed(error)
        }
    }

    /// Every prefix of the input is `.incomplete` until the answer is decided, then exactly the
    /// whole input's answer (head or error), with the default and with small limits; every
    /// accessor of a complete head holds up (`exercise`).
    public static func incremental(_ bytes: UnsafeRawBufferPointer) -> String? {
        let n = bytes.count
        for limits in limitSets {
            let whole = outcome(bytes, count: n, limits: limits)
            var decided = false
            let stride = max(1, n / 512)
            var k = 0
            while k <= n {
                let partial = outcome(bytes, count: k, limits: limits)
                if partial == .incomplete && !decided {
                    k = k == n ? n + 1 : min(n, k + stride)
                    continue
                }
                guard partial == whole else {
                    return "limits \(limits.maxHeadSize)/\(limits.maxHeaderCount): prefix of \(k) of \(n) bytes gives \(partial), the whole input \(whole)"
                }
                decided = true
                k = k == n ? n + 1 : n
            }
        }
        return nil
    }

    /// A complete head's accessors: the lines iterate to `headerCount` inside the head, values
    /// trimmed; look-ups agree with iteration; the status is three digits; Content-Length either
    /// throws or agrees with every Content-Length line.
    public static func exercise(_ view: HTTPResponseView) -> String? {
        guard (100...999).contains(view.status) else { return "status \(view.status)" }
        guard view.headersRange.upperBound <= view.length, view.length <= view.bytes.count else { return "ranges past the head" }
        var count = 0
        for field in view.headers {
            count += 1
            if let first = field.value.first, first == 0x20 || first == 0x09 { return "untrimmed value" }
            if view.headers.first(named: "Content-Length") == nil, ASCII.equalsIgnoringCase(field.name, "Content-Length") {
                return "look-up misses a Content-Length line iteration finds"
            }
        }
        guard count == view.headerCount else { return "\(count) lines iterated, \(view.headerCount) counted" }
        if let length = try? view.contentLength() {
            for field in view.headers.fields(named: "Content-Length") where ASCII.decimal(field.value) != nil && ASCII.decimal(field.value) != length {
                return "Content-Length \(length) disagrees with a line"
            }
        }
        _ = view.isPersistent
        _ = view.hasTransferEncoding
        _ = view.hasBody(requestWasHead: false)
        return nil
    }
}
