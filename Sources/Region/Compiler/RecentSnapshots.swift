import Synchronization

/// The snapshot this region compiled last for each rack, kept in memory once it passed its
/// check: the rack's download of its new generation is answered from here while PostgreSQL
/// still stores it, and without reading 47 MB back out of PostgreSQL (TOAST and LZ4) after.
/// Another region process serves the same snapshot from the database once it is stored, as
/// does this one for anything older.
public final class RecentSnapshots: Sendable {
    /// Oldest first; the newest stays whatever its size, older racks' while they fit. A
    /// snapshot whose store has not ended stays too: racks were told of it, and until it is
    /// stored this is the only place that has it (the next pass may start, and replace it,
    /// while it is stored). The compiler's own array is kept (no copy on its thread, which
    /// announces after this).
    private let kept = Mutex<[(rack: Int64, sha256: String, bytes: [UInt8], storing: Bool)]>([])
    let maximumBytes: Int

    public init(maximumBytes: Int = 256 << 20) {
        self.maximumBytes = maximumBytes
    }

    func remember(rack: Int64, sha256: String, bytes: [UInt8]) {
        kept.withLock { kept in
            kept.removeAll { $0.rack == rack && !$0.storing }
            kept.append((rack, sha256, bytes, true))
            var total = kept.reduce(0) { $0 + $1.bytes.count }
            var index = 0
            while index < kept.count - 1, total > maximumBytes {
                if kept[index].storing {
                    index += 1
                } else {
                    total -= kept.remove(at: index).bytes.count
                }
            }
        }
    }

    /// The store of `sha256` ended (stored, or failed: racks then move on to the generation
    /// compiled again): it may go once its rack has a newer one, or room is needed.
    func storeEnded(sha256: String) {
        kept.withLock { kept in
            guard let index = kept.lastIndex(where: { $0.sha256 == sha256 }) else { return }
            kept[index].storing = false
            let rack = kept[index].rack
            if kept.lastIndex(where: { $0.rack == rack }) != index { kept.remove(at: index) }
        }
    }

    func bytes(sha256: String) -> [UInt8]? {
        kept.withLock { kept in kept.last { $0.sha256 == sha256 }?.bytes }
    }
}
