import Glibc

/// A fixed pool of equal-sized send buffers in one allocation, with a free-list stack of
/// indices. No allocation after start-up; running dry is counted by the caller and the reply
/// dropped, never a wait.
final class SendSlotPool {
    let slotSize: Int
    let count: Int
    private let memory: UnsafeMutableRawPointer
    private var free: [Int32]

    init(count: Int, slotSize: Int) {
        self.count = count
        self.slotSize = slotSize
        // Page-aligned so slots can be registered as fixed buffers later.
        memory = UnsafeMutableRawPointer.allocate(byteCount: count * slotSize, alignment: 4096)
        free = (0..<Int32(count)).reversed().map { $0 }
    }

    deinit { memory.deallocate() }

    var available: Int { free.count }

    func allocate() -> SendSlot? {
        guard let index = free.popLast() else { return nil }
        return SendSlot(index: index, buffer: buffer(index))
    }

    func release(_ index: Int32) {
        assert(index >= 0 && Int(index) < count)
        free.append(index)
    }

    @inline(__always)
    func buffer(_ index: Int32) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: memory + Int(index) * slotSize, count: slotSize)
    }
}
