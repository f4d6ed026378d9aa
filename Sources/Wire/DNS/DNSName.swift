/// A domain name inside a DNS message: a view (message + offset) that follows compression
/// pointers when its labels are read.
///
/// A `DNSName` is only made by validating the name, so walking its labels later cannot fail
/// and needs no bounds checks. The caller keeps `message` alive and unchanged meanwhile.
public struct DNSName {
    /// The whole message the name lives in (pointers are offsets from its start).
    public let message: UnsafeRawBufferPointer
    /// Offset of the name's first length byte (or pointer).
    public let offset: Int
    /// Offset just past the name as written here: after its root byte or its first pointer.
    public let end: Int
    /// Length of the uncompressed name, 1...255, counting length bytes and the root byte.
    public let wireLength: Int
    /// Number of labels, not counting the root; 0 for the root name.
    public let labelCount: Int

    /// "labels 63 octets or less" (RFC 1035 §2.3.4).
    public static let maxLabelLength = 63
    /// "names 255 octets or less" (RFC 1035 §2.3.4), in wire form.
    public static let maxWireLength = 255
    /// Pointers must go strictly backwards, so loops are impossible; the cap only bounds the
    /// work a chain of pointer-to-pointer can cause.
    public static let maxPointerHops = 127

    /// Validates the name at `offset` of `message`.
    ///
    /// - Throws: `.truncated` if a label or pointer runs past the end; `.limitExceeded` for a
    ///   length byte of 64–191 or a name over 255 bytes; `.badPointer` for a pointer that does
    ///   not go strictly backwards or for too many hops. `field` names the name being read.
    @inlinable
    public init(in message: UnsafeRawBufferPointer, at offset: Int, field: StaticString = "dns.name") throws(WireError) {
        var position = offset
        // RFC 1035 §4.1.4 only says a pointer replaces "a prior occurance of the same name".
        // Requiring each pointer to land strictly before the label sequence that holds it makes
        // forward pointers and loops (self, A→B→A) impossible in one comparison.
        var sequenceStart = offset
        var end = -1
        var length = 1
        var labels = 0
        var hops = 0
        while true {
            guard position >= 0, position < message.count else { throw WireError(.truncated, field, at: position) }
            let byte = message[position]
            if byte == 0 {
                if end < 0 { end = position + 1 }
                break
            } else if byte <= 63 {
                let labelEnd = position + 1 + Int(byte)
                guard labelEnd <= message.count else { throw WireError(.truncated, field, at: position) }
                length += 1 + Int(byte)
                guard length <= Self.maxWireLength else { throw WireError(.limitExceeded, field, at: position) }
                labels += 1
                position = labelEnd
            } else if byte >= 0xC0 {
                guard position + 1 < message.count else { throw WireError(.truncated, field, at: position) }
                let target = Int(byte & 0x3F) << 8 | Int(message[position + 1])
                guard target < sequenceStart else { throw WireError(.badPointer, field, at: position) }
                hops += 1
                guard hops <= Self.maxPointerHops else { throw WireError(.badPointer, field, at: position) }
                if end < 0 { end = position + 2 }
                position = target
                sequenceStart = target
            } else {
                // 0x40 and 0x80 were extended label types, which RFC 6891 §5 deprecates; with a
                // 6-bit length either one reads as a label over 63 bytes.
                throw WireError(.limitExceeded, field, at: position)
            }
        }
        self.message = message
        self.offset = offset
        self.end = end
        self.wireLength = length
        self.labelCount = labels
    }

    /// Validates an uncompressed name that fills all of `wire` (a name from a table, or one
    /// built by `DNSName.write(text:to:)`).
    @inlinable
    public init(wire: UnsafeRawBufferPointer, field: StaticString = "dns.name") throws(WireError) {
        try self.init(in: wire, at: 0, field: field)
        guard end == wire.count else { throw WireError(.invalidLength, field, at: end) }
    }

    /// True for the root name ".".
    @inlinable public var isRoot: Bool { labelCount == 0 }

    /// The labels from the leftmost to the last before the root, each a slice of `message`.
    @inlinable public var labels: Labels { Labels(message: message, position: offset) }

    /// The labels of a validated name, following pointers without checks.
    public struct Labels: Sequence, IteratorProtocol {
        @usableFromInline let message: UnsafeRawBufferPointer
        /// Offset of the next length byte or pointer.
        @usableFromInline var position: Int

        @inlinable
        init(message: UnsafeRawBufferPointer, position: Int) {
            self.message = message
            self.position = position
        }

        @inlinable
        public mutating func next() -> UnsafeRawBufferPointer? {
            while true {
                let byte = message[position]
                if byte == 0 { return nil }
                if byte >= 0xC0 {
                    position = Int(byte & 0x3F) << 8 | Int(message[position + 1])
                    continue
                }
                let start = position + 1
                position = start + Int(byte)
                return UnsafeRawBufferPointer(rebasing: message[start..<position])
            }
        }

        /// Skips one label; false at the root.
        @inlinable
        mutating func skipLabel() -> Bool { next() != nil }

        /// Offset of the next label's length byte after following any pointers; the position
        /// at which the remaining suffix of the name starts.
        @inlinable
        mutating func resolvedPosition() -> Int {
            while message[position] >= 0xC0 {
                position = Int(message[position] & 0x3F) << 8 | Int(message[position + 1])
            }
            return position
        }
    }
}
