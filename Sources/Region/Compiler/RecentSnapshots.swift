import Synchronization

/// The snapshot this region compiled last for each rack, kept in memory once it passed its
/// check: the rack's download of its new generation is answered from here while PostgreSQL
/// still stores it, and without reading 47 MB back out of PostgreSQL (TOAST and LZ4) after.
/// Another region process serves the same snapshot from the database once it is stored, as
/// does this one for anything older.
public final class RecentSnapshots: Sendable {
    /// Oldest first; the newest stays whatever its size, older racks' while they fit. The
    /// compiler's own array is kept (no copy on its thread, which announces after this).
    private let kept = Mutex<[(rack: Int64, sha256: String, bytes: [UInt8])]>([])
    let maximumBytes: Int

    public init(maximumBytes: Int = 256 << 20) {
        self.maximumBytes = maximumBytes
    }

    func remember(rack: Int64, sha256: String, bytes: [UInt8]) {
        kept.withLock { kept in
            kept.removeAll { $0.rack == rack }
            kept.append((rack, sha256, bytes))
            var total = kept.reduce(0) { $0 + $1.bytes.count }
            while kept.count > 1, total > maximumBytes {
                total -= kept.removeFirst().bytes.count
            }
        }
    }

    func bytes(sha256: String) -> [UInt8]? {
        kept.withLock { kept in kept.last { $0.sha256 == sha256 }?.bytes }
    }
}
