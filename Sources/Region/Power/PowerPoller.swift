import Foundation
import Logging
import ServiceLifecycle

/// Every `interval`, a power query for each machine with a power driver and a rack to ask
/// (and no request of its own still open). Results land like any other (`PowerRoutes.finish`):
/// an event when the state changed or the BMC failed, not one per poll. Regions sharing a
/// database take turns through an advisory lock, so a machine is polled once per interval.
public struct PowerPoller: Service {
    let store: RegionStore
    let interval: Duration
    let logger: Logger

    static let advisoryLockKey = "7386112830174217010"

    public init(store: RegionStore, interval: Duration, logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        guard interval > .zero else { return }
        // Ended at once on shutdown, mid-sleep too: the region does not wait out an interval.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let queued = try await pollOnce()
                    if queued > 0 { logger.debug("power poll queued", metadata: ["machines": "\(queued)"]) }
                } catch {
                    logger.error("power poll failed: \(error)")
                }
                try await Task.sleep(for: interval)
            }
        }
    }

    /// Queues one query per machine due; returns how many.
    @discardableResult
    public func pollOnce() async throws -> Int {
        let seconds = String(Int(interval.components.seconds))
        return try await store.pool.withConnection { connection in
            try connection.transaction { connection in
                guard try connection.query("SELECT pg_try_advisory_xact_lock($1::bigint)", [Self.advisoryLockKey]).scalar == "t" else { return 0 }
                try PowerRoutes.expireAbandoned(on: connection)
                let rows = try connection.query("""
                    INSERT INTO power_requests (machine_id, rack_id, action, source, actor)
                    SELECT m.id, rack.id, 'query', 'poll', 'region'
                    FROM machines m
                    CROSS JOIN LATERAL (\(PowerRoutes.servingRackSQL.replacingOccurrences(of: "$1::bigint", with: "m.id"))) AS rack(id)
                    WHERE m.power_type <> 'manual' AND m.power_parameters_sealed IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM power_requests q WHERE q.machine_id = m.id AND q.status IN ('pending', 'sent'))
                      AND NOT EXISTS (SELECT 1 FROM power_requests q WHERE q.machine_id = m.id AND q.source = 'poll'
                                      AND q.created_at > now() - make_interval(secs => $1::integer) + interval '1 second')
                    RETURNING id
                    """, [seconds]).rows
                return rows.count
            }
        }
    }
}
