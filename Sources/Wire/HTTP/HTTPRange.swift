/// One byte-range-spec of a Range header (RFC 9110 §14.1.1).
public enum HTTPByteRange: Equatable, Sendable {
    /// "first-last", both inclusive.
    case bounded(first: UInt64, last: UInt64)
    /// "first-": from `first` to the end.
    case from(first: UInt64)
    /// "-length": the last `length` bytes.
    case suffix(length: UInt64)

    /// The bytes this spec selects from a representation of `size` bytes, or nil if it selects
    /// none. RFC 9110 §14.1.2: a last-pos at or past the end means the end; "If the selected
    /// representation is shorter than the specified suffix-length, the entire representation is
    /// used"; an int-range is satisfiable only if "the first-pos is less than the current length
    /// of the selected representation", a suffix-range only with "a non-zero suffix-length".
    public func resolved(size: UInt64) -> ClosedRange<UInt64>? {
        switch self {
        case .bounded(let first, let last):
            guard first < size else { return nil }
            return first...min(last, size - 1)
        case .from(let first):
            guard first < size else { return nil }
            return first...(size - 1)
        case .suffix(let length):
            guard length > 0, size > 0 else { return nil }
            return (size - min(length, size))...(size - 1)
        }
    }
}

/// The byte ranges of a validated `Range: bytes=…` value, iterated lazily in the order sent.
///
/// What to do with overlapping or unordered ranges is the server's policy; RFC 9110 §14.2 lets
/// it ignore such a header, or coalesce.
public struct HTTPByteRanges: Sequence {
    /// The range-set: the field value after "bytes=".
    public let set: UnsafeRawBufferPointer
    /// Number of range specs (at least one).
    public let count: Int

    /// Parses a Range field value found at `offset` of the message (for errors).
    ///
    /// Returns nil for a unit other than "bytes": "An origin server MUST ignore a Range header
    /// field that contains a range unit it does not understand" (RFC 9110 §14.2). Throws for an
    /// invalid range-set, which the server "MAY ignore or reject" — ours decides. More than
    /// `maxRanges` specs is `.limitExceeded`: a list of many small ranges is a known amplifier.
    public static func parse(_ value: UnsafeRawBufferPointer, at offset: Int = 0, maxRanges: Int = 16) throws(WireError) -> HTTPByteRanges? {
        guard let equals = value.firstIndex(of: UInt8(ascii: "=")) else {
            throw WireError(.invalidValue, "http.range.unit", at: offset)
        }
        let unit = UnsafeRawBufferPointer(rebasing: value[0..<equals])
        guard !unit.isEmpty, unit.allSatisfy(HTTPSyntax.isTokenChar) else {
            throw WireError(.invalidValue, "http.range.unit", at: offset)
        }
        // "Range units are compared in a case-insensitive fashion" (RFC 9110 §14.1).
        guard ASCII.equalsIgnoringCase(unit, "bytes") else { return nil }
        let set = UnsafeRawBufferPointer(rebasing: value[(equals + 1)...])
        var count = 0
        for element in HTTPListElements(set) {
            let at = offset + (element.baseAddress! - value.baseAddress!)
            guard Self.spec(element) != nil else { throw WireError(.invalidValue, "http.range.spec", at: at) }
            count += 1
            guard count <= maxRanges else { throw WireError(.limitExceeded, "http.range.count", at: at) }
        }
        guard count > 0 else { throw WireError(.invalidValue, "http.range.set", at: offset + equals + 1) }
        return HTTPByteRanges(set: set, count: count)
    }

    /// int-range = first-pos "-" [ last-pos ]; suffix-range = "-" suffix-length. RFC 9110
    /// §14.1.1: "A byte-range-spec is invalid if the last-pos value is present and less than
    /// the first-pos".
    static func spec(_ element: UnsafeRawBufferPointer) -> HTTPByteRange? {
        guard let dash = element.firstIndex(of: UInt8(ascii: "-")) else { return nil }
        let before = UnsafeRawBufferPointer(rebasing: element[0..<dash])
        let after = UnsafeRawBufferPointer(rebasing: element[(dash + 1)...])
        if before.isEmpty {
            guard let length = ASCII.decimal(after) else { return nil }
            return .suffix(length: length)
        }
        guard let first = ASCII.decimal(before) else { return nil }
        if after.isEmpty { return .from(first: first) }
        guard let last = ASCII.decimal(after), last >= first else { return nil }
        return .bounded(first: first, last: last)
    }

    public struct Iterator: IteratorProtocol {
        var elements: HTTPListElements

        public mutating func next() -> HTTPByteRange? {
            elements.next().flatMap(HTTPByteRanges.spec)
        }
    }

    public func makeIterator() -> Iterator { Iterator(elements: HTTPListElements(set)) }

    /// The satisfiable ranges against a representation of `size` bytes, lazily, in the order
    /// sent. Empty means 416 (Range Not Satisfiable).
    public func satisfiable(size: UInt64) -> HTTPSatisfiableRanges {
        HTTPSatisfiableRanges(specs: makeIterator(), size: size)
    }
}

/// The satisfiable ranges of an `HTTPByteRanges` for one representation size.
public struct HTTPSatisfiableRanges: Sequence, IteratorProtocol {
    var specs: HTTPByteRanges.Iterator
    public let size: UInt64

    public mutating func next() -> ClosedRange<UInt64>? {
        while let spec = specs.next() {
            if let range = spec.resolved(size: size) { return range }
        }
        return nil
    }
}
