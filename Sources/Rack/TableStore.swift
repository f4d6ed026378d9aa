import CLinuxShims
import Glibc
import Site
import Synchronization
import Tables

/// The snapshot in service, shared by every ring. Readers check `generation` (one atomic load)
/// at the end of each batch and take the lock only when it changed, so the hot path never
/// locks; a swap replaces the whole snapshot, so nobody sees half of a change.
public final class TableStore: Sendable {
    private let current: Mutex<TableSnapshot>
    private let generationValue: Atomic<UInt64>

    public init(_ snapshot: TableSnapshot) {
        current = Mutex(snapshot)
        generationValue = Atomic(snapshot.generation)
    }

    public var generation: UInt64 { generationValue.load(ordering: .acquiring) }

    public var snapshot: TableSnapshot { current.withLock { $0 } }

    public func install(_ snapshot: TableSnapshot) {
        current.withLock { $0 = snapshot }
        generationValue.store(snapshot.generation, ordering: .releasing)
    }
}

/// Where a standalone rack's tables come from: a site file compiled in place. The compiled
/// snapshot is also written to the state directory, so the last good tables survive a restart
/// even if the site file is broken by then.
public final class SiteTableSource: @unchecked Sendable {
    public let sitePath: String
    public let snapshotPath: String
    private let log: RackLog
    private var lastModified: timespec = timespec()
    private var lastGeneration: UInt64 = 0
    /// Named dynamic leases the zones publish (set by the rack from the DHCP ring's board).
    public var leases: [SiteLeaseName] = []

    public init(sitePath: String, stateDirectory: String, log: RackLog) {
        self.sitePath = sitePath
        self.snapshotPath = stateDirectory + "/tables.snapshot"
        self.log = log
    }

    /// Compiles the site file. A bad file throws with file, line and reason; nothing is served.
    public func load() throws -> TableSnapshot {
        lastModified = modificationTime() ?? timespec()
        let site = try SiteFile.load(path: sitePath)
        // Generations only rise, even if the clock steps back or two reloads share a second.
        let generation = max(UInt64(time(nil)), lastGeneration + 1)
        // Checked once, when the staged file is opened, and persisted only then: a snapshot that
        // fails its check replaces nothing.
        let bytes = try SiteCompiler.compile(SiteCompiler.prepare(site, leases: leases), generation: generation,
                                             createdAt: UInt64(time(nil)), validate: false)
        let (snapshot, temporary) = try TableFile.stage(bytes, for: snapshotPath)
        try TableFile.persist(temporary, to: snapshotPath)
        lastGeneration = generation
        // Parsing and compiling a large site file (100k machines) peaks at a few hundred MiB
        // that glibc keeps after it is freed; the snapshot itself is a mapping. Give the heap
        // back so the serving rack's footprint is the tables, not the compiler's high-water mark.
        malloc_trim(0)
        return snapshot
    }

    /// Whether the site file changed on disk since the last load.
    public var changed: Bool {
        guard let now = modificationTime() else { return false }
        return now.tv_sec != lastModified.tv_sec || now.tv_nsec != lastModified.tv_nsec
    }

    private func modificationTime() -> timespec? {
        var status = stat()
        guard stat(sitePath, &status) == 0 else { return nil }
        return status.st_mtim
    }

    /// Reloads into `store` if asked or if the file changed; a bad file is logged and the
    /// previous tables stay in service.
    public func reload(into store: TableStore, reason: String) {
        do {
            let snapshot = try load()
            store.install(snapshot)
            log.info("tables: generation \(snapshot.generation) in service (\(reason))")
        } catch {
            log.error("tables: \(error); generation \(store.generation) stays in service")
        }
    }
}
