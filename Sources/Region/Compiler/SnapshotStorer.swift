import Foundation
import Tables

/// Stores the compiler's snapshots on a connection and a thread of their own, one at a time and
/// in order, while the compiler goes on: storing 47 MB at 100k machines takes 0.3–0.7 s, and a
/// change made meanwhile no longer waits for it. The racks of this region process were told
/// before the store (they download from memory); other region processes hear of a snapshot from
/// the NOTIFY in its store's transaction.
///
/// Until a store lands, the rack's row still holds the tables before it: `pending` is what the
/// row will hold, and a pass compares its fingerprints with that. The compiler keeps the
/// advisory lock until no store is in flight, so another region process never compiles from a
/// row that is about to change.
///
/// Used by the compiler's thread only; each store runs on a thread the next one waits for.
final class SnapshotStorer {
    /// One snapshot to store and record on its rack.
    struct Job: Sendable {
        let tables: PublishedTables
        let bytes: [UInt8]
        let fingerprint: String
        /// Lifecycle power cycles (a Postgres array literal) that may go once racks serve it.
        let waitingCycles: String?
    }

    /// How a store ended.
    struct Outcome: Sendable {
        let tables: PublishedTables
        /// The rack's row now records it (false: the rack was deleted, or a newer generation
        /// was recorded first).
        let recorded: Bool
        let error: String?
        let duration: Duration
        /// Why the prune after it failed, if one was asked for (`pruneWithNextStore`) and failed.
        var pruneError: String?
    }

    /// The store connection, reached only by the store thread in flight (each waits for the
    /// one before it, which orders their use).
    private final class ConnectionSlot: @unchecked Sendable {
        var connection: PostgresConnection?
    }

    private let connectionString: String
    private let slot = ConnectionSlot()
    private var inFlight: (job: Job, prunes: Bool, thread: SideThread<Outcome>)?
    /// Outcomes of stores that ended, until `takeOutcomes`.
    private var outcomes: [Outcome] = []
    /// By rack: the fingerprint and generation its row will record once the stores submitted
    /// since the last pass began have landed.
    private(set) var pending: [Int64: (fingerprint: String, generation: String)] = [:]
    /// Whether the compiler's connection holds the compile lock on the stores' behalf.
    var holdsCompileLock = false
    /// Prune superseded snapshots after the next store, on its thread: writes that never go
    /// quiet still prune now and then, without the compiler waiting for the store in flight
    /// and the delete (0.4–0.7 s at 100k machines, which the next write waited for). The
    /// compile lock is held until that thread ends, as pruning needs.
    var pruneWithNextStore = false
    /// Runs on the store thread before each store (tests hold a store back with it).
    let beforeStore: (@Sendable () -> Void)?

    init(connectionString: String, beforeStore: (@Sendable () -> Void)? = nil) {
        self.connectionString = connectionString
        self.beforeStore = beforeStore
    }

    /// No store in flight, or the one in flight has ended.
    var isIdle: Bool { inFlight.map { $0.thread.isFinished } ?? true }

    /// Hands `job` to a store thread once the store before it has ended (waiting for it).
    func submit(_ job: Job) {
        collect(waiting: true)
        pending[job.tables.rackID] = (job.fingerprint, String(job.tables.generation))
        let slot = slot, connectionString = connectionString, beforeStore = beforeStore, prune = pruneWithNextStore
        pruneWithNextStore = false
        inFlight = (job, prune, SideThread {
            beforeStore?()
            var outcome = Self.store(job, slot: slot, connectionString: connectionString)
            if prune, outcome.error == nil, let connection = slot.connection {
                do {
                    try TablesCompiler.pruneSnapshots(on: connection)
                } catch {
                    outcome.pruneError = "\(error)"
                }
            }
            return outcome
        })
    }

    /// Before a pass reads the model: every store that has ended is in the database (or failed,
    /// and the row's older value is what the pass should compare with), so only the one still
    /// in flight is pending.
    func passBegins() {
        collect(waiting: false)
        if let inFlight {
            let rack = inFlight.job.tables.rackID
            pending = pending.filter { $0.key == rack }
        } else {
            pending.removeAll()
        }
    }

    /// Takes the outcome of the store in flight if it has ended (or waits for it).
    func collect(waiting: Bool) {
        guard let inFlight, waiting || inFlight.thread.isFinished else { return }
        let outcome = inFlight.thread.result()
        self.inFlight = nil
        outcomes.append(outcome)
        // A failed store did not prune: the next one does.
        if outcome.error != nil, inFlight.prunes { pruneWithNextStore = true }
        // A failed store leaves the row as it was: compare with that.
        if outcome.error != nil, pending[outcome.tables.rackID]?.generation == String(outcome.tables.generation) {
            pending[outcome.tables.rackID] = nil
        }
    }

    /// Outcomes since the last call, oldest first.
    func takeOutcomes() -> [Outcome] {
        defer { outcomes.removeAll() }
        return outcomes
    }

    private static func store(_ job: Job, slot: ConnectionSlot, connectionString: String) -> Outcome {
        let started = ContinuousClock.now
        // A kept connection may have died since the last store (the server restarted, an idle
        // timeout): one more try on a new one. Storing twice is harmless: the insert does
        // nothing for a stored hash, and the row, the cycles and the NOTIFY change only once.
        var attempts = slot.connection == nil ? 1 : 2
        while true {
            attempts -= 1
            do {
                let connection = try slot.connection ?? PostgresConnection(connectionString)
                slot.connection = connection
                let recorded = try TablesCompiler.store(job, on: connection)
                return Outcome(tables: job.tables, recorded: recorded, error: nil, duration: ContinuousClock.now - started)
            } catch {
                slot.connection = nil
                if attempts == 0 {
                    return Outcome(tables: job.tables, recorded: false, error: "\(error)", duration: ContinuousClock.now - started)
                }
            }
        }
    }
}
