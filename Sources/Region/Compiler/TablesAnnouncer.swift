import Foundation
import Synchronization

/// A rack's new tables, as announced after a compile (NOTIFY `rackplane_tables`, and the rack
/// stream's `data:` lines).
public struct PublishedTables: Sendable, Hashable, Codable {
    public var rackID: Int64
    public var generation: UInt64
    public var sha256: String
    public var size: Int

    enum CodingKeys: String, CodingKey {
        case rackID = "rack_id", generation, sha256, size
    }
}

/// Hands every announcement this region process hears to whoever listens: the rack streams
/// (`GET /api/v1/rack/stream`) and tests. It hears them from PostgreSQL, so announcements made
/// by another region process sharing the database reach this process's racks too.
public final class TablesAnnouncer: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<PublishedTables>.Continuation]>([:])
    private let finished = Atomic<Bool>(false)

    public init() {}

    /// Announcements from now on; the stream ends when the region shuts down.
    public func subscribe() -> AsyncStream<PublishedTables> {
        let (stream, continuation) = AsyncStream<PublishedTables>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let id = UUID()
        if finished.load(ordering: .acquiring) {
            continuation.finish()
            return stream
        }
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ tables: PublishedTables) {
        let listeners = subscribers.withLock { Array($0.values) }
        listeners.forEach { $0.yield(tables) }
    }

    /// Ends every stream (shutdown): held-open rack streams must end for the server to stop.
    public func finishAll() {
        finished.store(true, ordering: .releasing)
        // finish() runs onTermination, which takes the lock: finish outside it.
        let ending = subscribers.withLock { subscribers in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        ending.forEach { $0.finish() }
    }
}
