import Wire

/// Properties of the HTTP request-head parser and the request fields the boot server acts on,
/// run by the `FuzzHTTP` target on random input and by the unit tests on every kept finding
/// (`fuzz/regressions/`). Each returns a description of the violation, or nil.
public enum HTTPChecks {
    /// What one call of `HTTPRequestHead.parse` said, comparable across calls on different
    /// buffers (ranges are offsets from the start of the bytes).
    enum Outcome: Equatable, CustomStringConvertible {
        case incomplete
        case failed(WireError)
        case complete(length: Int, method: Range<Int>, target: Range<Int>, version: HTTPVersion, headers: Range<Int>, count: Int)

        var description: String {
            switch self {
            case .incomplete: "incomplete"
            case .failed(let error): "error \(error)"
            case .complete(let length, let method, let target, let version, let headers, let count):
                "complete(length \(length), method \(method), target \(target), \(version.name), headers \(headers) ×\(count))"
            }
        }

        var isIncomplete: Bool { self == .incomplete }
    }

    /// The limits the property runs with: the defaults, and small ones so that inputs reach them.
    static let limitSets = [HTTPHeadLimits(), HTTPHeadLimits(maxHeadSize: 96, maxHeaderCount: 3)]

    /// Parses the first `count` bytes of `bytes` from a copy of exactly that size, so that a
    /// read past the data received so far is an AddressSanitizer report, not a silent peek at
    /// bytes that have not arrived.
    static func outcome(_ bytes: UnsafeRawBufferPointer, count: Int, limits: HTTPHeadLimits) -> Outcome {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
        defer { copy.deallocate() }
        if count > 0 { copy.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<count])) }
        do throws(WireError) {
            switch try HTTPRequestHead.parse(UnsafeRawBufferPointer(copy), limits: limits) {
            case .incomplete: return .incomplete
            case .complete(let head):
                return .complete(
                    length: head.length, method: head.methodRange, target: head.targetRange, version: head.version,
                    headers: head.headersRange, count: head.headerCount)
            }
        } catch {
            return .failed(error)
        }
    }

    /// The incremental parser gives the same answer however the input arrives: parsing every
    /// prefix (every split position up to the first decided one, with a stride beyond 1 KiB;
    /// then the next few positions and some up to the end) and
    /// feeding it in random chunks (sizes from a generator seeded by the input) must give
    /// `.incomplete` until the answer is decided and then exactly the answer for the whole input
    /// — the same head (length, ranges, version, header count) or the same error (reason, field,
    /// offset) — and never change it once given. Checked with the default limits and with small
    /// ones. Then every head of the input (pipelined requests included) goes through
    /// `exerciseHead`.
    public static func incremental(_ bytes: UnsafeRawBufferPointer) -> String? {
        let n = bytes.count
        for limits in limitSets {
            let whole = outcome(bytes, count: n, limits: limits)
            let tag = "limits \(limits.maxHeadSize)/\(limits.maxHeaderCount)"

            // Split at every position: each prefix is a possible "data received so far". Up to
            // the first decided prefix every position is tried (with a stride beyond 1 KiB, so a
            // long head stays affordable); after it the parser has stopped reading, so a few
            // positions (the next ones and the end) show the answer no longer changes.
            let stride = max(1, n / 1024)
            var decided: Int?
            var k = 0
            while k <= n {
                let partial = outcome(bytes, count: k, limits: limits)
                if partial.isIncomplete && decided == nil {
                    k = k == n ? n + 1 : min(n, k + stride)
                    continue
                }
                guard partial == whole else {
                    return "\(tag): prefix of \(k) of \(n) bytes gives \(partial), the whole input \(whole)"
                        + (decided.map { " (decided at \($0))" } ?? "")
                }
                if decided == nil { decided = k }
                guard k < n else { break }
                k = k < decided! + 3 ? k + 1 : (k < n - 1 ? max(k + 1, (k + n) / 2) : n)
            }
            if decided == nil, !whole.isIncomplete { return "\(tag): no prefix gives the whole input's \(whole)" }

            // Random chunks, as a connection would deliver them.
            var random = SplitMix(seed: fnv1a(bytes) ^ UInt64(limits.maxHeadSize))
            var received = 0
            var fed = Outcome.incomplete
            while received < n {
                received = min(n, received + 1 + Int(random.next() % 24))
                fed = outcome(bytes, count: received, limits: limits)
                if !fed.isIncomplete { break }
            }
            if n == 0 { fed = outcome(bytes, count: 0, limits: limits) }
            guard fed == whole else { return "\(tag): fed in chunks gives \(fed) at \(received) bytes, the whole input \(whole)" }
        }

        // Each head, the pipelined ones after the first included (at most 8).
        var offset = 0
        for _ in 0..<8 where offset < n {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: rest.count, alignment: 1)
            defer { copy.deallocate() }
            copy.copyMemory(from: rest)
            guard case .complete(let head)? = try? HTTPRequestHead.parse(UnsafeRawBufferPointer(copy)) else { break }
            if let violation = exerciseHead(head) { return "head at \(offset): \(violation)" }
            guard head.length > 0 else { return "a complete head of length 0" }
            offset += head.length
        }
        return nil
    }

    /// The sizes Range headers are resolved against.
    static let sizes: [UInt64] = [0, 1, 2, 10, 1000, 1 << 32, UInt64.max]

    /// Reads every accessor of a parsed head and checks what must hold of it: the header lines
    /// iterate to `headerCount` inside `headersRange` with trimmed values; look-ups agree with
    /// iteration; `isPersistent` follows from `connection` and the version; every byte range
    /// resolves inside every size (and as RFC 9110 §14.1.2 says) and writes as a Content-Range;
    /// every If-None-Match tag matches its own opaque-tag and survives `writeETag` → parse; an
    /// If-Modified-Since date survives `HTTPDate.write` → parse.
    public static func exerciseHead(_ head: HTTPRequestHead) -> String? {
        let bytes = head.bytes
        guard head.length <= bytes.count, head.headersRange.upperBound <= head.length,
              head.methodRange.upperBound < head.targetRange.lowerBound, head.targetRange.upperBound < head.headersRange.lowerBound
        else { return "ranges out of order or outside the head" }
        guard !head.methodBytes.isEmpty, !head.target.isEmpty else { return "empty method or target" }
        _ = (head.method, head.version.name)

        var count = 0
        var position = head.headersRange.lowerBound
        for field in head.headers {
            count += 1
            guard field.offset == position, !field.name.isEmpty else { return "field \(count) is not at \(position)" }
            if let start = field.value.baseAddress, !field.value.isEmpty {
                let at = start - bytes.baseAddress!
                guard at > field.offset + field.name.count, at + field.value.count <= head.headersRange.upperBound else {
                    return "field \(count) value outside its line"
                }
            }
            if let first = field.value.first, first == 0x20 || first == 0x09 { return "field \(count) value not trimmed" }
            if let last = field.value.last, last == 0x20 || last == 0x09 { return "field \(count) value not trimmed" }
            // The line ends at the next CRLF.
            var end = field.offset
            while bytes[end] != 0x0D { end += 1 }
            position = end + 2
        }
        guard count == head.headerCount, position == head.headersRange.upperBound else {
            return "headers iterate \(count) lines to \(position), head says \(head.headerCount) to \(head.headersRange.upperBound)"
        }
        for name: StaticString in ["Host", "Connection", "Range", "If-None-Match", "If-Modified-Since", "Content-Length"] {
            var named = 0
            var firstValue: UnsafeRawBufferPointer?
            for field in head.headers.fields(named: name) {
                if named == 0 { firstValue = field.value }
                named += 1
            }
            guard named == head.headers.count(named: name) else { return "count(named: \(name)) disagrees with fields(named:)" }
            let first = head.headers.first(named: name)
            guard first?.baseAddress == firstValue?.baseAddress, first?.count == firstValue?.count else {
                return "first(named: \(name)) is not the first of fields(named:)"
            }
        }

        _ = try? head.contentLength()
        _ = try? head.host()
        let connection = head.connection
        let persistent = !connection.contains(.close) && (head.version == .http1_1 || connection.contains(.keepAlive))
        guard head.isPersistent == persistent else { return "isPersistent \(head.isPersistent) with \(connection.rawValue), \(head.version.name)" }

        return withUnsafeTemporaryAllocation(byteCount: 512, alignment: 8) { scratch -> String? in
            if let ranges = try? head.range() {
                if let violation = checkRanges(ranges, scratch) { return violation }
            }
            if let violation = checkIfNoneMatch(head, scratch) { return violation }
            for now: Int64? in [nil, 1_767_225_600 /* 2026-01-01 */] {
                guard let t = try? head.ifModifiedSince(now: now) else { continue }
                var writer = WireWriter(scratch)
                do throws(WireError) {
                    try HTTPDate.write(t, into: &writer)
                } catch {
                    return "If-Modified-Since \(t) does not write as an HTTP-date: \(error)"
                }
                guard writer.count == HTTPDate.length else { return "HTTP-date of \(writer.count) bytes" }
                guard let back = HTTPDate.parse(writer.written, now: now), back == t else {
                    return "If-Modified-Since \(t) written as \(String(decoding: writer.written, as: UTF8.self)) parses to \(String(describing: HTTPDate.parse(writer.written, now: now)))"
                }
            }
            return nil
        }
    }

    static func checkRanges(_ ranges: HTTPByteRanges, _ scratch: UnsafeMutableRawBufferPointer) -> String? {
        var specs: [HTTPByteRange] = []
        for spec in ranges { specs.append(spec) }
        guard specs.count == ranges.count, ranges.count >= 1 else { return "Range has \(ranges.count) specs, iterates \(specs.count)" }
        for size in sizes {
            var expected: [ClosedRange<UInt64>] = []
            for spec in specs {
                let resolved = spec.resolved(size: size)
                let wanted: ClosedRange<UInt64>?
                switch spec {
                case .bounded(let first, let last):
                    guard first <= last else { return "bounded range \(first)-\(last) accepted" }
                    wanted = first < size ? first...min(last, size - 1) : nil
                case .from(let first):
                    wanted = first < size ? first...(size - 1) : nil
                case .suffix(let length):
                    wanted = length > 0 && size > 0 ? (size - min(length, size))...(size - 1) : nil
                }
                guard resolved == wanted else { return "\(spec) against \(size) resolves to \(String(describing: resolved))" }
                if let r = resolved {
                    guard r.upperBound < size else { return "\(spec) resolves past the end of \(size)" }
                    expected.append(r)
                    var writer = WireWriter(scratch)
                    do throws(WireError) {
                        try HTTPResponseHead.writeContentRange(r, size: size, into: &writer)
                    } catch {
                        return "Content-Range for \(r)/\(size) does not write: \(error)"
                    }
                }
            }
            let satisfiable = Array(ranges.satisfiable(size: size))
            guard satisfiable == expected else { return "satisfiable(size: \(size)) is \(satisfiable), specs give \(expected)" }
            if satisfiable.isEmpty {
                var writer = WireWriter(scratch)
                guard (try? HTTPResponseHead.writeUnsatisfiedContentRange(size: size, into: &writer)) != nil else {
                    return "unsatisfied Content-Range for \(size) does not write"
                }
            }
        }
        return nil
    }

    static func checkIfNoneMatch(_ head: HTTPRequestHead, _ scratch: UnsafeMutableRawBufferPointer) -> String? {
        guard let condition = try? head.ifNoneMatch() else { return nil }
        switch condition {
        case .any:
            guard condition.matches(opaque: UnsafeRawBufferPointer(start: nil, count: 0)) else { return "* does not match" }
        case .tags(let list):
            var tags = 0
            for tag in list {
                tags += 1
                guard !tag.opaque.contains(UInt8(ascii: "\"")), tag.weaklyMatches(opaque: tag.opaque),
                      condition.matches(opaque: tag.opaque)
                else { return "entity-tag \(tags) does not match itself" }
                // What the server would send back for this tag, as a request would quote it.
                var writer = WireWriter(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<256]))
                do throws(WireError) {
                    let etagStart = writer.count
                    try HTTPResponseHead.writeETag(opaque: tag.opaque, weak: tag.isWeak, into: &writer)
                    // "ETag: " + value + CRLF: keep the value, then end the head.
                    let value = UnsafeRawBufferPointer(rebasing: scratch[(etagStart + 6)..<(writer.count - 2)])
                    var rebuilt = WireWriter(UnsafeMutableRawBufferPointer(rebasing: scratch[256...]))
                    try rebuilt.writeBytes("GET / HTTP/1.1\r\nIf-None-Match: ", "check")
                    try rebuilt.writeBytes(value, "check")
                    try rebuilt.writeBytes("\r\n\r\n", "check")
                    guard case .complete(let again) = try HTTPRequestHead.parse(rebuilt.written),
                          case .tags(let list)? = try again.ifNoneMatch()
                    else { return "entity-tag \(tags) written by writeETag does not parse back" }
                    var iterator = list.makeIterator()
                    guard let back = iterator.next(), iterator.next() == nil, back.isWeak == tag.isWeak,
                          back.opaque.elementsEqual(tag.opaque)
                    else { return "entity-tag \(tags) changed through writeETag" }
                } catch {
                    // A tag too long for the scratch space is not the codec's fault.
                    if error.reason == .noSpace { continue }
                    return "entity-tag \(tags) through writeETag: \(error)"
                }
            }
            guard tags > 0 else { return "If-None-Match list with no tags" }
        }
        return nil
    }

    static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        return hash
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }
}
