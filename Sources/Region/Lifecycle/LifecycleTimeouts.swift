import Logging
import ServiceLifecycle

/// Moves machines that waited too long for their report to Failed commissioning / Failed
/// deployment, with the reason ("no report within N s") as their status message and an event.
/// Checks every `checkInterval` (a tenth of the timeout, between 1 and 30 s). Regions sharing a
/// database may all run it: each machine is moved once (`FOR UPDATE SKIP LOCKED`, and the
/// state condition is part of the update).
public struct LifecycleTimeouts: Service {
    let store: RegionStore
    let timeoutSeconds: Int
    let logger: Logger

    public init(store: RegionStore, timeoutSeconds: Int, logger: Logger) {
        self.store = store
        self.timeoutSeconds = timeoutSeconds
        self.logger = logger
    }

    var checkInterval: Duration { .seconds(min(30, max(1, timeoutSeconds / 10))) }

    public func run() async throws {
        guard timeoutSeconds > 0 else { return }
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let failed = try await checkOnce()
                    if !failed.isEmpty { logger.info("lifecycle timeouts", metadata: ["machines": "\(failed)"]) }
                } catch {
                    logger.error("lifecycle timeout check failed: \(error)")
                }
                try await Task.sleep(for: checkInterval)
            }
        }
    }

    /// One pass; returns the ids of the machines it failed.
    @discardableResult
    public func checkOnce() async throws -> [String] {
        let timeout = timeoutSeconds
        return try await store.pool.withConnection { connection in
            try connection.transaction { try Lifecycle.failOverdue(timeoutSeconds: timeout, on: $0) }
        }
    }
}
