/// An entity-tag (RFC 9110 §8.8.3): `[W/] "opaque"`.
public struct HTTPEntityTag {
    public let isWeak: Bool
    /// The opaque-tag without its quotes.
    public let opaque: UnsafeRawBufferPointer

    /// Weak comparison (RFC 9110 §8.8.3.2): "two entity tags are equivalent if their opaque-tags
    /// match character-by-character, regardless of either or both being tagged as "weak"".
    public func weaklyMatches(opaque other: UnsafeRawBufferPointer) -> Bool {
        opaque.elementsEqual(other)
    }

    /// Scans the next entity-tag of a list from `offset`, skipping OWS and empty elements; nil
    /// at the end. Commas may appear inside an opaque-tag, so this cannot use a plain split.
    static func next(in value: UnsafeRawBufferPointer, from offset: inout Int, at base: Int) throws(WireError) -> HTTPEntityTag? {
        var i = offset
        while i < value.count, HTTPSyntax.isWhitespace(value[i]) || value[i] == UInt8(ascii: ",") { i += 1 }
        guard i < value.count else {
            offset = i
            return nil
        }
        let start = i
        var weak = false
        if value[i] == UInt8(ascii: "W") {
            guard i + 1 < value.count, value[i + 1] == UInt8(ascii: "/") else { throw WireError(.invalidValue, "http.etag", at: base + start) }
            weak = true
            i += 2
        }
        guard i < value.count, value[i] == UInt8(ascii: "\"") else { throw WireError(.invalidValue, "http.etag", at: base + start) }
        i += 1
        let opaqueStart = i
        // etagc = %x21 / %x23-7E / obs-text
        while i < value.count, value[i] != UInt8(ascii: "\"") {
            guard value[i] >= 0x21, value[i] != 0x7F else { throw WireError(.invalidValue, "http.etag", at: base + i) }
            i += 1
        }
        guard i < value.count else { throw WireError(.invalidValue, "http.etag", at: base + start) }
        let opaque = UnsafeRawBufferPointer(rebasing: value[opaqueStart..<i])
        i += 1
        // After a tag: only OWS, then a comma or the end.
        while i < value.count, HTTPSyntax.isWhitespace(value[i]) { i += 1 }
        guard i == value.count || value[i] == UInt8(ascii: ",") else { throw WireError(.invalidValue, "http.etag", at: base + i) }
        offset = i
        return HTTPEntityTag(isWeak: weak, opaque: opaque)
    }
}

/// The If-None-Match precondition (RFC 9110 §13.1.2): `*` or a list of entity-tags, which may
/// be spread over several field lines.
public enum HTTPIfNoneMatch {
    case any
    case tags(HTTPEntityTagList)

    /// True if the precondition *fails* for a current representation with this opaque-tag, i.e.
    /// the server answers 304 to GET/HEAD. "*" matches any existing representation. "A
    /// recipient MUST use the weak comparison function when comparing entity tags for
    /// If-None-Match".
    public func matches(opaque: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .any: return true
        case .tags(let list):
            for tag in list where tag.weaklyMatches(opaque: opaque) { return true }
            return false
        }
    }
}

/// Validated entity-tags of all If-None-Match lines of a head, iterated lazily.
public struct HTTPEntityTagList: Sequence {
    let head: HTTPRequestHead

    public struct Iterator: IteratorProtocol {
        var lines: HTTPNamedFields
        var value = UnsafeRawBufferPointer(start: nil, count: 0)
        var offset = 0

        public mutating func next() -> HTTPEntityTag? {
            while true {
                // Validated when the list was made, so a throw cannot happen here.
                if let tag = (try? HTTPEntityTag.next(in: value, from: &offset, at: 0)) ?? nil { return tag }
                guard let line = lines.next() else { return nil }
                value = line.value
                offset = 0
            }
        }
    }

    public func makeIterator() -> Iterator { Iterator(lines: head.headers.fields(named: "If-None-Match")) }
}
