/// TXT RDATA (RFC 1035 §3.3.14): one or more <character-string>s, each a length byte and
/// that many bytes. Validated when made, then iterated without checks.
public struct DNSTXT: Sequence {
    /// The whole RDATA.
    public let rdata: UnsafeRawBufferPointer

    /// - Throws: `.truncated` if a string's length runs past the RDATA. Empty RDATA is
    ///   accepted (as zero strings) although RFC 1035 asks for at least one, as tshark does.
    @inlinable
    public init(rdata: UnsafeRawBufferPointer, at offset: Int = 0) throws(WireError) {
        var position = 0
        while position < rdata.count {
            position += 1 + Int(rdata[position])
            guard position <= rdata.count else { throw WireError(.truncated, "dns.rdata.txt", at: offset + rdata.count) }
        }
        self.rdata = rdata
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(rdata: rdata, position: 0) }

    public struct Iterator: IteratorProtocol {
        @usableFromInline let rdata: UnsafeRawBufferPointer
        @usableFromInline var position: Int

        @inlinable
        init(rdata: UnsafeRawBufferPointer, position: Int) {
            self.rdata = rdata
            self.position = position
        }

        @inlinable
        public mutating func next() -> UnsafeRawBufferPointer? {
            guard position < rdata.count else { return nil }
            let start = position + 1
            position = start + Int(rdata[position])
            return UnsafeRawBufferPointer(rebasing: rdata[start..<position])
        }
    }
}
