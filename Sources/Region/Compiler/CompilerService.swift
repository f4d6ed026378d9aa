import Foundation
import CLinuxShims
import Glibc
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps the racks' tables current: compiles at start, then again shortly after the model
/// changes. Changes are learnt from PostgreSQL (LISTEN `rackplane_model_changed`, sent by
/// triggers at commit), so a write through any region process — or straight into the
/// database — wakes every region; the compile itself is serialised by an advisory lock and
/// makes no new generation when nothing changed, so the regions agree.
public final class CompilerService: Service, Sendable {
    public static let modelChannel = "rackplane_model_changed"
    /// What can wait until the model has been quiet this long:
    /// - a compile of a large model peaks at hundreds of MiB that glibc keeps. Giving them back
    ///   after every pass made the next pass fault them all in again;
    /// - pruning superseded snapshots (deleting 54 MB rows at 100k machines) delayed the next
    ///   pass.
    static let housekeepingAfter: Duration = .seconds(3)
    /// Passes that published without a quiet spell before the housekeeping is done anyway.
    static let supersededBeforePrune = 8

    let connectionString: String
    /// How long after a pass changes count as one burst: they are compiled together once
    /// the model has been quiet this long. A change after a quiet spell compiles at once.
    let debounce: Duration
    let metrics: RegionMetrics
    let logger: Logger
    let boot: CompilerBootSettings
    /// Announcements heard on `rackplane_tables` (from any region process) go out through it.
    public let announcer: TablesAnnouncer
    /// What this process published last, for the racks' downloads.
    public let recentSnapshots = RecentSnapshots()
    private let stopping = Atomic<Bool>(false)
    /// Runs before each snapshot store, on the store's thread (tests hold stores back with it).
    let beforeStore: (@Sendable () -> Void)?

    public init(
        connectionString: String, debounce: Duration = .milliseconds(200), announcer: TablesAnnouncer = TablesAnnouncer(),
        boot: CompilerBootSettings = CompilerBootSettings(), metrics: RegionMetrics, logger: Logger,
        beforeStore: (@Sendable () -> Void)? = nil
    ) {
        self.beforeStore = beforeStore
        self.connectionString = connectionString
        self.boot = boot
        self.debounce = debounce
        self.announcer = announcer
        self.metrics = metrics
        self.logger = logger
    }

    /// New generations announced from now on, by this region process or another.
    public func publications() -> AsyncStream<PublishedTables> { announcer.subscribe() }

    public func run() async throws {
        // libpq waits block a thread: the loop gets one of its own, not a cooperative one.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let thread = Thread { [self] in
                        listenLoop()
                        continuation.resume()
                    }
                    thread.name = "rackplane-compiler"
                    thread.start()
                }
            } onGracefulShutdown: { [self] in
                stop()
            }
        } onCancel: { [self] in
            stop()
        }
        announcer.finishAll()
    }

    /// Ends the loop within one poll interval.
    public func stop() { stopping.store(true, ordering: .relaxed) }

    private var isStopping: Bool { stopping.load(ordering: .relaxed) }

    private func listenLoop() {
        // Kept across lost connections: a store in flight goes on.
        let storer = SnapshotStorer(connectionString: connectionString, beforeStore: beforeStore)
        defer {
            // Left through a lost connection while stopping: the store in flight ends first, so
            // its row and NOTIFY are not lost.
            storer.collect(waiting: true)
            _ = reportStores(storer)
        }
        while !isStopping {
            // A lock held on a lost connection went with it.
            storer.holdsCompileLock = false
            do {
                let connection = try PostgresConnection(connectionString)
                try connection.query("LISTEN \(Self.modelChannel)")
                try connection.query("LISTEN \(TablesCompiler.publishChannel)")
                // Kept while this connection listens: notifications missed while nobody
                // listened are lost, so a new connection starts empty.
                let cache = CompilerModelCache()
                // Whatever changed while nobody listened (first start, a lost connection).
                var publishedSincePrune = 0
                var pass = PassAnnouncements()
                var failed = !compile(on: connection, cache: cache, storer: storer, generations: &publishedSincePrune,
                                      announceEarly: true, announcements: &pass)
                var lastPass = ContinuousClock.now
                // When the compiler last heard of a change: what tells a burst.
                var lastChange = ContinuousClock.now
                var tidied = false
                // And what other regions published before this one listened: their NOTIFY
                // went by unheard, so tell this process's listeners the current generations.
                announceCurrent(on: connection)
                while !isStopping {
                    // A failed compile is tried again within a second, change or not: the change
                    // it missed would otherwise wait for the next one.
                    let changed = try pass.changedWhileBuilding
                        || wait(on: connection, cache: cache, storer: storer, for: failed ? .seconds(1) : .milliseconds(250))
                    failed = reportStores(storer) || failed
                    guard changed || failed else {
                        if !tidied, storer.isIdle, ContinuousClock.now - lastPass > Self.housekeepingAfter {
                            housekeeping(on: connection)
                            publishedSincePrune = 0
                            storer.pruneWithNextStore = false
                            tidied = true
                        }
                        continue
                    }
                    // A change after a quiet spell compiles at once: a lone write reaches the
                    // racks without waiting. A burst waits until it is quiet, so it costs two
                    // passes, the first of them with its first write. A burst is a change
                    // heard within `debounce` of the one before, or one committed while the
                    // last pass built (heard when it announced). Sequential writes that each
                    // wait for the racks to serve the last are a burst only where a pass is
                    // quicker than `debounce` (a small model); with 100k machines they come a
                    // second apart and each compiles at once. A stream of writes that never goes
                    // quiet is compiled every `debounce × 5` all the same, so racks do not wait
                    // for the end of a mass enlistment.
                    let heard = ContinuousClock.now
                    let burst = changed && (pass.changedWhileBuilding || heard - lastChange < debounce)
                    if changed { lastChange = heard }
                    if failed || burst {
                        let latest = ContinuousClock.now + debounce * 5
                        while ContinuousClock.now < latest, try wait(on: connection, cache: cache, storer: storer, for: debounce),
                              !isStopping {
                            lastChange = ContinuousClock.now
                        }
                        failed = reportStores(storer) || failed
                    }
                    // After a failed pass (a store that failed, say) racks are told only once a
                    // snapshot is stored: a failure that lasts must not have them download a
                    // new generation every second that the database never records.
                    let announceEarly = !failed
                    pass = PassAnnouncements()
                    failed = !compile(on: connection, cache: cache, storer: storer, generations: &publishedSincePrune,
                                      announceEarly: announceEarly, announcements: &pass)
                    lastPass = ContinuousClock.now
                    tidied = false
                    // Writes that never go quiet still prune now and then, after the next store
                    // and on its thread. The heap is trimmed only once it is quiet: the next
                    // pass of the burst would fault it all in again.
                    if publishedSincePrune >= Self.supersededBeforePrune {
                        storer.pruneWithNextStore = true
                        publishedSincePrune = 0
                    }
                }
                // Stopping: the store in flight ends before this connection, and the compile
                // lock it holds, go; another region process would otherwise compile from the
                // row that store is about to change.
                storer.collect(waiting: true)
                _ = reportStores(storer)
                TablesCompiler.releaseLockIfIdle(storer, on: connection)
            } catch {
                logger.error("compiler lost its database connection; retrying", metadata: ["error": "\(error)"])
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    /// Waits up to `timeout` for notifications; announces new tables at once and returns true
    /// if the model changed. While a store is in flight it looks at it every 10 ms, and
    /// releases the compile lock kept for it as soon as it ends.
    private func wait(on connection: PostgresConnection, cache: CompilerModelCache, storer: SnapshotStorer,
                      for timeout: Duration) throws -> Bool {
        if try handle(connection.drainNotifications(), cache: cache) { return true }
        let end = ContinuousClock.now + timeout
        while !isStopping {
            storer.collect(waiting: false)
            TablesCompiler.releaseLockIfIdle(storer, on: connection)
            let left = end - ContinuousClock.now
            guard left > .zero else { return false }
            let slice = storer.holdsCompileLock ? min(left, .milliseconds(10)) : left
            var descriptor = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(slice.components.seconds * 1000 + slice.components.attoseconds / 1_000_000_000_000_000)
            if poll(&descriptor, 1, max(milliseconds, 1)) > 0, try handle(connection.drainNotifications(), cache: cache) {
                return true
            }
        }
        return false
    }

    /// Logs the stores that ended and counts them; true if one failed (the next pass then
    /// tells racks only once it has stored).
    private func reportStores(_ storer: SnapshotStorer) -> Bool {
        var failed = false
        for outcome in storer.takeOutcomes() {
            recentSnapshots.storeEnded(sha256: outcome.tables.sha256)
            metrics.countStore(seconds: outcome.duration.seconds, failed: outcome.error != nil)
            let tables = outcome.tables
            if let error = outcome.error {
                failed = true
                logger.error("could not store new tables; the next pass compiles them again", metadata: [
                    "rack": "\(tables.rackID)", "generation": "\(tables.generation)", "error": "\(error)"])
            } else {
                logger.info("stored tables", metadata: [
                    "rack": "\(tables.rackID)", "generation": "\(tables.generation)", "recorded": "\(outcome.recorded)",
                    "store_ms": "\(Int((outcome.duration.seconds * 1000).rounded()))"])
            }
            if let pruneError = outcome.pruneError {
                logger.warning("could not prune superseded table snapshots", metadata: ["error": "\(pruneError)"])
            }
        }
        return failed
    }

    /// Passes table announcements on and tells the cache which tables changed; true if any
    /// notification says the model changed.
    private func handle(_ notifications: [PostgresNotification], cache: CompilerModelCache) -> Bool {
        var modelChanged = false
        for notification in notifications {
            if notification.channel == TablesCompiler.publishChannel {
                if let tables = try? JSONDecoder().decode(PublishedTables.self, from: Data(notification.payload.utf8)) {
                    announcer.publish(tables)
                }
            } else {
                cache.changed(table: notification.payload)
                modelChanged = true
            }
        }
        return modelChanged
    }

    /// Publishes every rack's current tables to this process's listeners (duplicates are
    /// harmless: a rack fetches only a digest it does not serve).
    private func announceCurrent(on connection: PostgresConnection) {
        guard let rows = try? connection.query("""
            SELECT r.id, r.tables_generation, r.tables_sha256, length(t.bytes) AS size
            FROM rack_controllers r JOIN table_snapshots t ON t.sha256 = r.tables_sha256
            ORDER BY r.id
            """).rows else { return }
        for row in rows {
            guard let rack = try? row.integer("id"), let generation = row["tables_generation"].flatMap(UInt64.init),
                  let digest = row["tables_sha256"], let size = row["size"].flatMap(Int.init) else { continue }
            announcer.publish(PublishedTables(rackID: rack, generation: generation, sha256: digest, size: size))
        }
    }

    private func housekeeping(on connection: PostgresConnection) {
        do {
            try TablesCompiler.prune(on: connection)
        } catch {
            logger.warning("could not prune superseded table snapshots", metadata: ["error": "\(error)"])
        }
        malloc_trim(0)
    }

    /// What a pass tells the loop about its announcements.
    struct PassAnnouncements {
        /// Whether the model changed while it built, as heard when it announced.
        var changedWhileBuilding = false
    }

    /// One pass; false if it failed (the caller tries again within a second). `generations`
    /// counts the passes that published, for pruning. With `announceEarly`, this process's
    /// racks are told of each snapshot once it passed its check, and download it from memory
    /// while it is stored; otherwise (and always for other region processes) the NOTIFY after
    /// the store tells them. The NOTIFY repeats what was told early, and each rack stream
    /// drops a generation it already sent.
    @discardableResult
    private func compile(on connection: PostgresConnection, cache: CompilerModelCache, storer: SnapshotStorer,
                         generations: inout Int, announceEarly: Bool, announcements: inout PassAnnouncements) -> Bool {
        // A store that failed since the loop last looked makes this pass store before telling.
        storer.collect(waiting: false)
        let storeFailedBefore = reportStores(storer)
        let announceEarly = announceEarly && !storeFailedBefore
        if !announceEarly {
            // Stored before racks are told: on this thread, once the store in flight has ended.
            storer.collect(waiting: true)
            storer.passBegins()
            TablesCompiler.releaseLockIfIdle(storer, on: connection)
        }
        let compiled = compilePass(on: connection, cache: cache, storer: announceEarly ? storer : nil, generations: &generations,
                                   announceEarly: announceEarly, announcements: &announcements)
        // The store the pass waited for (a failed one is compiled again, stored before told).
        let storesFailed = reportStores(storer)
        return compiled && !storesFailed && !storeFailedBefore
    }

    private func compilePass(on connection: PostgresConnection, cache: CompilerModelCache, storer: SnapshotStorer?,
                             generations: inout Int, announceEarly: Bool, announcements: inout PassAnnouncements) -> Bool {
        // Stored on this thread (no storer): they have ended, stored or not, when the pass has.
        var storedInline: [String] = []
        defer { storedInline.forEach { recentSnapshots.storeEnded(sha256: $0) } }
        do {
            let report = try TablesCompiler(boot: boot).compileAll(on: connection, cache: cache, prune: false,
                                                                   storer: storer) { tables, bytes in
                recentSnapshots.remember(rack: tables.rackID, sha256: tables.sha256, bytes: bytes)
                if storer == nil { storedInline.append(tables.sha256) }
                guard announceEarly else { return }
                // Changes committed while this pass built are a burst whose tail waits for quiet;
                // the ones that come during the store are not.
                if let heard = try? connection.drainNotifications(), handle(heard, cache: cache) {
                    announcements.changedWhileBuilding = true
                }
                announcer.publish(tables)
            }
            if !report.published.isEmpty { generations += 1 }
            metrics.countCompile(published: report.published.map(\.generation), failed: !report.failed.isEmpty, timings: report.timings)
            let timings = report.timings
            func ms(_ duration: Duration) -> String { String(Int((duration.seconds * 1000).rounded())) }
            logger.info("compile pass", metadata: [
                "published": "\(report.published.count)", "failed": "\(report.failed.count)",
                "model_ms": "\(ms(timings.model))", "fingerprint_ms": "\(ms(timings.fingerprint))",
                "build_ms": "\(ms(timings.build))", "check_ms": "\(ms(timings.check))", "store_ms": "\(ms(timings.store))", "total_ms": "\(ms(timings.total))",
                "cached": "\(report.cachedModelParts.joined(separator: ","))",
            ])
            for (rack, reason) in report.failed {
                logger.error("rack tables did not compile; the rack keeps its previous tables", metadata: ["rack": "\(rack)", "reason": "\(reason)"])
            }
            for tables in report.published {
                logger.info("new tables", metadata: ["rack": "\(tables.rackID)", "generation": "\(tables.generation)", "sha256": "\(tables.sha256)"])
            }
            return true
        } catch {
            cache.invalidateAll()
            metrics.countCompile(published: [], failed: true)
            logger.error("compile failed; trying again", metadata: ["error": "\(error)"])
            return false
        }
    }
}
