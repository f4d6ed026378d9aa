/// A growable byte buffer that owns its memory: the journal's pending batch, and the image of a
/// compacted file. Reserved once and reused (`removeAll` keeps the capacity), so appending a
/// record allocates nothing once the buffer has grown to the largest batch.
struct ByteBuffer: ~Copyable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    mutating func removeAll() { count = 0 }

    /// Makes room for `extra` more bytes and returns where they go; `commit(extra)` counts them.
    mutating func reserve(_ extra: Int) -> UnsafeMutableRawPointer {
        if count + extra > capacity {
            var grown = capacity * 2
            while grown < count + extra { grown *= 2 }
            let moved = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
            moved.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = moved
            capacity = grown
        }
        return base + count
    }

    mutating func commit(_ written: Int) {
        precondition(count + written <= capacity)
        count += written
    }
}
