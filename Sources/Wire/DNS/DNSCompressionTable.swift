/// Offsets of names already written to a message, for name compression (RFC 1035 §4.1.4).
///
/// Fixed capacity and stored inline, so building a message allocates nothing. Once full,
/// later names are simply written whole: the message grows a little, nothing breaks.
struct DNSCompressionTable {
    static let capacity = 64
    /// A pointer has 14 bits of offset.
    static let maxOffset = 0x3FFF

    private var offsets = SIMD64<UInt16>()
    private(set) var count = 0

    subscript(index: Int) -> Int { Int(offsets[index]) }

    /// Remembers that a name (suffix) starts at `offset`, if there is room and a pointer can
    /// reach it.
    mutating func insert(_ offset: Int) {
        guard count < Self.capacity, offset <= Self.maxOffset else { return }
        offsets[count] = UInt16(offset)
        count += 1
    }

    /// Forgets entries from `mark` on, after the bytes they point at were rolled back.
    mutating func truncate(to mark: Int) {
        count = min(count, mark)
    }
}
