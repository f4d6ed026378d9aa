import Glibc

/// The compiler's large buffers — the zone arena, the zone section and the snapshot file, tens
/// of MB each at 100k machines, built afresh on every pass — are asked to be backed by
/// transparent huge pages where the system grants them on request (`madvise` mode): their first
/// touch is then a few dozen faults instead of tens of thousands (about 60 ms of a region's
/// 100k-machine pass). Smaller buffers are left alone.
enum HugePages {
    static let size = 2 << 20

    static func advise(_ start: UnsafeMutableRawPointer, _ count: Int) {
        guard count >= 2 * size else { return }
        let mask = UInt(size - 1)
        let first = (UInt(bitPattern: start) + mask) & ~mask
        let end = (UInt(bitPattern: start) + UInt(count)) & ~mask
        guard end > first, let aligned = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(aligned, Int(end - first), MADV_HUGEPAGE)
    }
}
