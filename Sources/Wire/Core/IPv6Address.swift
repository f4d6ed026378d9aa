/// An IPv6 address as two 64-bit halves in host order; enough for AAAA records and captures.
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    @inlinable public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    @inlinable
    public init(bytes: UnsafeRawBufferPointer, at offset: Int) {
        high = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self).bigEndian
        low = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self).bigEndian
    }

    /// The eight 16-bit groups, most significant first.
    public var groups: [UInt16] {
        (0..<8).map { i in
            let half = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: half >> UInt64(48 - 16 * (i % 4)))
        }
    }

    /// RFC 5952 text: lower case, leading zeros dropped, the longest run of two or more zero
    /// groups (the first if tied) written as "::".
    public var description: String {
        let g = groups
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8, g[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength, i - runStart >= 2 {
                    bestStart = runStart
                    bestLength = i - runStart
                }
                runStart = -1
            }
        }
        var parts: [String] = []
        var i = 0
        var out = ""
        while i < 8 {
            if i == bestStart {
                out += (parts.isEmpty ? "" : parts.joined(separator: ":")) + "::"
                parts = []
                i += bestLength
                continue
            }
            parts.append(String(g[i], radix: 16))
            i += 1
        }
        if bestStart < 0 { return parts.joined(separator: ":") }
        return out + parts.joined(separator: ":")
    }

    /// Parses RFC 4291 text ("2001:db8::1"); nil for anything else. No embedded IPv4 form.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        let halves = s.components(separatedByDoubleColon: ())
        guard halves.count <= 2 else { return nil }
        func groupsOf(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for piece in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !piece.isEmpty, piece.count <= 4, let v = UInt16(piece, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        var all: [UInt16]
        if halves.count == 2 {
            guard let head = groupsOf(halves[0]), let tail = groupsOf(halves[1]), head.count + tail.count <= 7 else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let only = groupsOf(halves[0]), only.count == 8 else { return nil }
            all = only
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for i in 0..<4 { h = h << 16 | UInt64(all[i]) }
        for i in 4..<8 { l = l << 16 | UInt64(all[i]) }
        high = h
        low = l
    }
}

extension String {
    /// Splits at "::" (at most meaningful once in an IPv6 address).
    fileprivate func components(separatedByDoubleColon _: Void) -> [Substring] {
        var parts: [Substring] = []
        var start = startIndex
        var i = startIndex
        while i < endIndex {
            let next = index(after: i)
            if self[i] == ":", next < endIndex, self[next] == ":" {
                parts.append(self[start..<i])
                start = index(after: next)
                i = start
                continue
            }
            i = next
        }
        parts.append(self[start..<endIndex])
        return parts
    }
}
