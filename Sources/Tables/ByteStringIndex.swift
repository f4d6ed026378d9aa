/// Byte strings (wire-form names), each stored once in one flat buffer and known by an id: the
/// order it was added in. Callers keep what they know of a name in arrays indexed by that id.
///
/// A value type made of three arrays of plain values: a copy is a copy of those buffers, with no
/// reference counted per entry, and a lookup hashes the bytes eight at a time (`TableHash.words`)
/// instead of through SipHash.
/// The zone assembly keeps one for the 300k owners of a 100k-machine site and copies it on
/// every pass; a `Dictionary` keyed by byte arrays spent a third of that pass hashing, copying
/// (a retain per key) and freeing.
public struct ByteStringIndex: Sendable {
    private var storage: [UInt8] = []
    /// By id: where its bytes are in `storage`.
    private var entries: [(start: UInt32, length: UInt32)] = []
    /// Open addressing, linear probing, at most half full: 0 is empty, else the hash's upper 32
    /// bits above the id plus one. A probe reads the bytes only where those bits match, so a
    /// miss costs one cache line, not three.
    private var slots: [UInt64]

    public init(minimumCapacity: Int = 0) {
        entries.reserveCapacity(minimumCapacity)
        storage.reserveCapacity(minimumCapacity * 16)
        slots = [UInt64](repeating: 0, count: TableHash.capacity(for: minimumCapacity))
    }

    public var count: Int { entries.count }

    /// The bytes of `id` (an id `intern` returned), as an array.
    public func bytes(_ id: Int32) -> [UInt8] {
        let entry = entries[Int(id)]
        return Array(storage[Int(entry.start)..<Int(entry.start + entry.length)])
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 { TableHash.words(bytes) }

    @inline(__always)
    private static func slotValue(id: Int32, hash: UInt64) -> UInt64 { hash & 0xFFFF_FFFF_0000_0000 | UInt64(UInt32(id) + 1) }

    /// The id of `bytes`, or -1.
    public func find(_ bytes: UnsafeRawBufferPointer) -> Int32 { find(bytes, hash: Self.hash(bytes)).id }

    public func find(_ bytes: [UInt8]) -> Int32 { bytes.withUnsafeBytes { find($0) } }

    /// A lookup by a slice (a name's suffix) without copying it.
    public func find(_ bytes: ArraySlice<UInt8>) -> Int32 { bytes.withUnsafeBytes { find($0) } }

    /// The id, or -1 and the empty slot where it would go.
    private func find(_ bytes: UnsafeRawBufferPointer, hash: UInt64) -> (id: Int32, slot: Int) {
        let mask = slots.count - 1
        let tag = hash & 0xFFFF_FFFF_0000_0000
        var slot = Int(truncatingIfNeeded: hash) & mask
        return slots.withUnsafeBufferPointer { slots in
            storage.withUnsafeBytes { stored in
                while true {
                    let value = slots[slot]
                    if value == 0 { return (-1, slot) }
                    if value & 0xFFFF_FFFF_0000_0000 == tag {
                        let id = Int32(truncatingIfNeeded: value & 0xFFFF_FFFF) - 1
                        let entry = entries[Int(id)]
                        if entry.length == UInt32(bytes.count),
                           UnsafeRawBufferPointer(rebasing: stored[Int(entry.start)..<Int(entry.start + entry.length)]).sameBytes(as: bytes) {
                            return (id, slot)
                        }
                    }
                    slot = (slot + 1) & mask
                }
            }
        }
    }

    /// The id of `bytes`, added (with the next id) if it is new.
    @discardableResult
    public mutating func intern(_ bytes: UnsafeRawBufferPointer) -> (id: Int32, added: Bool) {
        let hash = Self.hash(bytes)
        let (found, empty) = find(bytes, hash: hash)
        if found >= 0 { return (found, false) }
        let id = Int32(count)
        entries.append((UInt32(storage.count), UInt32(bytes.count)))
        storage.append(contentsOf: bytes)
        if count * 2 > slots.count {
            slots = [UInt64](repeating: 0, count: slots.count * 2)
            for existing in 0..<count { place(Int32(existing)) }
        } else {
            slots[empty] = Self.slotValue(id: id, hash: hash)
        }
        return (id, true)
    }

    @discardableResult
    public mutating func intern(_ bytes: [UInt8]) -> (id: Int32, added: Bool) { bytes.withUnsafeBytes { intern($0) } }

    /// Each id's hash is computed again when the slots grow: they grow rarely (the assembly
    /// says how many names to expect), and the index is copied on every pass.
    private mutating func place(_ id: Int32) {
        let mask = slots.count - 1
        let entry = entries[Int(id)]
        let hash = storage.withUnsafeBytes { Self.hash(UnsafeRawBufferPointer(rebasing: $0[Int(entry.start)..<Int(entry.start + entry.length)])) }
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = Self.slotValue(id: id, hash: hash)
    }
}
