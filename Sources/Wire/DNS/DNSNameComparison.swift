/// Case-insensitive comparison of names without copying them (RFC 4343 §3: "comparisons on
/// name lookup for DNS queries should be case insensitive"). Only ASCII letters fold; other
/// bytes compare exactly.
extension DNSName: Equatable {
    /// Equal ignoring ASCII case; the two names may live in different messages.
    @inlinable
    public static func == (lhs: DNSName, rhs: DNSName) -> Bool {
        guard lhs.wireLength == rhs.wireLength, lhs.labelCount == rhs.labelCount else { return false }
        var left = lhs.labels
        var right = rhs.labels
        while let a = left.next() {
            guard let b = right.next(), ASCII.equalsIgnoringCase(a, b) else { return false }
        }
        return true
    }

    /// True if `wire`, all of it, is this name in uncompressed wire form, ignoring ASCII case.
    /// `wire` need not be valid: anything malformed simply does not match.
    @inlinable
    public func matches(wire: UnsafeRawBufferPointer) -> Bool {
        guard wire.count == wireLength else { return false }
        var position = 0
        for label in labels {
            guard Int(wire[position]) == label.count else { return false }
            let start = position + 1
            position = start + label.count
            guard ASCII.equalsIgnoringCase(label, UnsafeRawBufferPointer(rebasing: wire[start..<position])) else { return false }
        }
        return wire[position] == 0
    }

    /// True if the two names are the same bytes, case included (used for compression, so the
    /// case a name was written in survives).
    @inlinable
    static func exactlyEqual(_ a: Labels, _ b: Labels) -> Bool {
        var a = a
        var b = b
        while true {
            let x = a.next()
            let y = b.next()
            guard let x else { return y == nil }
            guard let y, x.count == y.count else { return false }
            for i in 0..<x.count where x[i] != y[i] { return false }
        }
    }
}
