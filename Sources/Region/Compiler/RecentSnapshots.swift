import Hummingbird
import Synchronization

/// The snapshots this region compiled last, kept in memory so that a rack fetching the new
/// generation is answered without reading 54 MB back out of PostgreSQL (TOAST and LZ4) first.
/// Another region process serves the same snapshot from the database.
public final class RecentSnapshots: Sendable {
    /// Newest last; the newest stays whatever its size, older ones while they fit.
    private let kept = Mutex<[(sha256: String, bytes: ByteBuffer)]>([])
    let maximumBytes: Int

    public init(maximumBytes: Int = 128 << 20) {
        self.maximumBytes = maximumBytes
    }

    func remember(sha256: String, bytes: [UInt8]) {
        let buffer = ByteBuffer(bytes: bytes)
        kept.withLock { kept in
            kept.removeAll { $0.sha256 == sha256 }
            kept.append((sha256, buffer))
            var total = kept.reduce(0) { $0 + $1.bytes.readableBytes }
            while kept.count > 1, total > maximumBytes {
                total -= kept.removeFirst().bytes.readableBytes
            }
        }
    }

    func bytes(sha256: String) -> ByteBuffer? {
        kept.withLock { kept in kept.last { $0.sha256 == sha256 }?.bytes }
    }
}
