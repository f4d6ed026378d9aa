import CLibURing
import Glibc

/// A provided-buffer ring (IORING_REGISTER_PBUF_RING): the kernel picks a free buffer for each
/// receive and names it in the completion; we hand it back after the handler has used it.
///
/// Debian's liburing 2.3 has no `io_uring_setup_buf_ring`, so the ring memory is mapped here and
/// registered with `io_uring_register_buf_ring`.
final class ProvidedBufferRing {
    let group: UInt16
    let count: UInt32
    let bufferSize: Int
    private let ringMemory: UnsafeMutableRawPointer
    private let ringBytes: Int
    private let bufferRing: UnsafeMutablePointer<io_uring_buf_ring>
    private let buffers: UnsafeMutableRawPointer
    private let mask: Int32
    /// Buffers handed back since the last `commit()`; published to the kernel in one store.
    private var pending: Int32 = 0

    init(ring: inout io_uring, group: UInt16, count requested: Int, bufferSize: Int) throws(SystemError) {
        // The kernel wants a power of two, at most 32768.
        var entries: UInt32 = 1
        while entries < UInt32(min(max(requested, 1), 32_768)) { entries <<= 1 }
        self.group = group
        self.count = entries
        self.bufferSize = bufferSize
        mask = io_uring_buf_ring_mask(entries)
        ringBytes = Int(entries) * MemoryLayout<io_uring_buf>.stride
        guard let memory = mmap(nil, ringBytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0),
              memory != MAP_FAILED else {
            throw SystemError(errno: errno, call: "mmap(buffer ring)")
        }
        ringMemory = memory
        bufferRing = memory.assumingMemoryBound(to: io_uring_buf_ring.self)
        io_uring_buf_ring_init(bufferRing)
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: memory))
        registration.ring_entries = entries
        registration.bgid = group
        let result = io_uring_register_buf_ring(&ring, &registration, 0)
        if result < 0 {
            munmap(memory, ringBytes)
            throw SystemError(errno: -result, call: "io_uring_register_buf_ring")
        }
        buffers = UnsafeMutableRawPointer.allocate(byteCount: Int(entries) * bufferSize, alignment: 4096)
        for id in 0..<Int32(entries) {
            io_uring_buf_ring_add(bufferRing, buffers + Int(id) * bufferSize, UInt32(bufferSize), UInt16(id), mask, id)
        }
        io_uring_buf_ring_advance(bufferRing, Int32(entries))
    }

    deinit {
        munmap(ringMemory, ringBytes)
        buffers.deallocate()
    }

    @inline(__always)
    func buffer(_ id: UInt16) -> UnsafeMutableRawPointer { buffers + Int(id) * bufferSize }

    /// Hands a buffer back; visible to the kernel at the next `commit()`.
    @inline(__always)
    func recycle(_ id: UInt16) {
        io_uring_buf_ring_add(bufferRing, buffer(id), UInt32(bufferSize), id, mask, pending)
        pending += 1
    }

    @inline(__always)
    func commit() {
        guard pending > 0 else { return }
        io_uring_buf_ring_advance(bufferRing, pending)
        pending = 0
    }
}
