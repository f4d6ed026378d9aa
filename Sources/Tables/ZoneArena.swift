/// A growable byte buffer the zone builder keeps names, RDATA and answers in, so that a
/// 100k-machine compile makes a handful of allocations instead of one or more per name.
///
/// A view into it (`bytes`) is valid until the next append that grows it. `append` accepts a
/// view of the arena itself (a name's parent is a suffix of the name).
final class ZoneArena {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inline(__always)
    func bytes(_ start: Int, _ length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + start, count: length)
    }

    @inline(__always)
    private func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        let own = UnsafeRawPointer(base)
        if source >= own, source < own + count {
            // A view of this arena: find it again after growing.
            let offset = source - own
            reserve(bytes.count)
            (base + count).update(from: base + offset, count: bytes.count)
        } else {
            reserve(bytes.count)
            UnsafeMutableRawPointer(base + count).copyMemory(from: source, byteCount: bytes.count)
        }
        count += bytes.count
    }

    func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    @inline(__always)
    func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    /// Network byte order.
    @inline(__always)
    func appendBigEndian(_ value: UInt16) {
        reserve(2)
        base[count] = UInt8(value >> 8)
        base[count + 1] = UInt8(truncatingIfNeeded: value)
        count += 2
    }

    @inline(__always)
    func appendBigEndian(_ value: UInt32) {
        reserve(4)
        base[count] = UInt8(value >> 24)
        base[count + 1] = UInt8(truncatingIfNeeded: value >> 16)
        base[count + 2] = UInt8(truncatingIfNeeded: value >> 8)
        base[count + 3] = UInt8(truncatingIfNeeded: value)
        count += 4
    }

    func appendZeros(_ n: Int) {
        reserve(n)
        (base + count).initialize(repeating: 0, count: n)
        count += n
    }

    @inline(__always)
    subscript(_ index: Int) -> UInt8 {
        get { base[index] }
        set { base[index] = newValue }
    }

    func truncate(to length: Int) {
        precondition(length <= count)
        count = length
    }
}

extension UnsafeRawBufferPointer {
    /// Byte-wise equality (the zone builder's names and answers).
    @inline(__always)
    func sameBytes(as other: UnsafeRawBufferPointer) -> Bool {
        guard count == other.count else { return false }
        guard count > 0 else { return true }
        return memcmpBytes(baseAddress!, other.baseAddress!, count)
    }
}

@inline(__always)
private func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    var index = 0
    // Eight bytes at a time, then the rest.
    while index + 8 <= count {
        if a.loadUnaligned(fromByteOffset: index, as: UInt64.self) != b.loadUnaligned(fromByteOffset: index, as: UInt64.self) { return false }
        index += 8
    }
    while index < count {
        if a.load(fromByteOffset: index, as: UInt8.self) != b.load(fromByteOffset: index, as: UInt8.self) { return false }
        index += 1
    }
    return true
}

/// Lower-case wire names, each stored once in an arena and known by an id (the order it was
/// added in), found by hash without allocating.
struct ZoneNameTable {
    let arena: ZoneArena
    private(set) var starts: [UInt32] = []
    private(set) var lengths: [UInt8] = []
    private var hashes: [UInt64] = []
    /// Open addressing, linear probing; -1 is empty.
    private var slots: [Int32]

    init(expected: Int) {
        arena = ZoneArena(capacity: expected * 16)
        starts.reserveCapacity(expected)
        lengths.reserveCapacity(expected)
        hashes.reserveCapacity(expected)
        slots = [Int32](repeating: -1, count: TableHash.capacity(for: expected))
    }

    var count: Int { starts.count }

    @inline(__always)
    func name(_ id: Int32) -> UnsafeRawBufferPointer { arena.bytes(Int(starts[Int(id)]), Int(lengths[Int(id)])) }

    @inline(__always)
    static func hash(_ name: UnsafeRawBufferPointer) -> UInt64 { TableHash.words(name) }

    /// The id of `name`, or -1.
    func find(_ name: UnsafeRawBufferPointer) -> Int32 { find(name, hash: Self.hash(name)) }

    private func find(_ name: UnsafeRawBufferPointer, hash: UInt64) -> Int32 {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let id = slots[slot]
            if id < 0 { return -1 }
            if hashes[Int(id)] == hash, self.name(id).sameBytes(as: name) { return id }
            slot = (slot + 1) & mask
        }
    }

    /// The id of `name` (at most 255 bytes), added if it is new.
    mutating func intern(_ name: UnsafeRawBufferPointer) -> (id: Int32, added: Bool) {
        let hash = Self.hash(name)
        let found = find(name, hash: hash)
        if found >= 0 { return (found, false) }
        let id = Int32(count)
        starts.append(UInt32(arena.count))
        lengths.append(UInt8(name.count))
        hashes.append(hash)
        arena.append(name)
        if count * 2 > slots.count {
            slots = [Int32](repeating: -1, count: slots.count * 2)
            for existing in 0..<count { place(Int32(existing)) }
        } else {
            place(id)
        }
        return (id, true)
    }

    private mutating func place(_ id: Int32) {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hashes[Int(id)]) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = id
    }
}
