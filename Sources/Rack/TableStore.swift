import ChildProcesses
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
///
/// `rackplane rack` compiles in a child process (`rackplane tables compile --staged`). Parsing
/// and compiling 100k machines peaks near 300 MiB and leaves the heap fragmented, and the YAML
/// parser's code and data stay resident; in a child all of that ends with the child, so the
/// serving rack holds only the mapped tables (docs/benchmarks.md, DNS RSS).
public final class SiteTableSource: @unchecked Sendable {
    public let sitePath: String
    public let snapshotPath: String
    /// The `rackplane` executable that compiles in a child process; nil compiles in this one.
    public let compilerExecutable: String?
    private let log: RackLog
    private var lastModified: timespec = timespec()
    private var lastGeneration: UInt64 = 0
    /// Named dynamic leases the zones publish (set by the rack from the DHCP ring's board).
    public var leases: [SiteLeaseName] = []

    public init(sitePath: String, stateDirectory: String, compilerExecutable: String? = nil, log: RackLog) {
        self.sitePath = sitePath
        self.snapshotPath = stateDirectory + "/tables.snapshot"
        self.compilerExecutable = compilerExecutable
        self.log = log
        // What a rack (or its compiler) that died mid-compile left beside the snapshot.
        TableFile.removeStaged(for: snapshotPath)
    }

    /// Compiles the site file. A bad file throws with file, line and reason; nothing is served.
    public func load() throws -> TableSnapshot {
        lastModified = modificationTime() ?? timespec()
        // Generations only rise, even if the clock steps back or two reloads share a second.
        let generation = max(UInt64(time(nil)), lastGeneration + 1)
        // Checked once, when the staged file is opened, and persisted only then: a snapshot that
        // fails its check replaces nothing.
        let (snapshot, temporary) = if let compilerExecutable {
            try compileInChild(compilerExecutable, generation: generation)
        } else {
            try compileHere(generation: generation)
        }
        try TableFile.persist(temporary, to: snapshotPath)
        lastGeneration = generation
        return snapshot
    }

    private func compileHere(generation: UInt64) throws -> (TableSnapshot, String) {
        let site = try SiteFile.load(path: sitePath)
        let bytes = try SiteCompiler.compile(SiteCompiler.prepare(site, leases: leases), generation: generation,
                                             createdAt: UInt64(time(nil)), validate: false)
        // The compiler's peak (a few hundred MiB at 100k machines) is free again; give it back.
        malloc_trim(0)
        return try TableFile.stage(bytes, for: snapshotPath)
    }

    private func compileInChild(_ executable: String, generation: UInt64) throws -> (TableSnapshot, String) {
        let temporary = TableFile.temporaryPath(for: snapshotPath)
        var arguments = [executable, "tables", "compile", "--output", temporary,
                         "--generation", String(generation), "--staged"]
        // Beside the staged snapshot and under its name, so a start-up after a crash removes it.
        let leasesPath = temporary + ".leases"
        if !leases.isEmpty {
            try TableFile.writeStaged(SiteLeaseNamesFile.encode(leases), to: leasesPath)
            arguments += ["--lease-names", leasesPath]
        }
        arguments += ["--", sitePath]  // a path may begin with "-"
        defer { if !leases.isEmpty { unlink(leasesPath) } }
        unlink(temporary)
        let status: Int32, output: String
        do {
            (status, output) = try ChildProcess.run(arguments)
        } catch {
            // No process to be had (no /proc, no process slots): the same compile, here.
            log.warning("tables: \(error); compiling in the rack's own process")
            return try compileHere(generation: generation)
        }
        guard status == 0 else {
            unlink(temporary)
            throw SiteCompileFailure(status: status, output: output)
        }
        return (try TableFile.openStaged(temporary), temporary)
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

/// The site compiler process failed: what it printed (the site file's error, with file, line and
/// reason), or its exit status when it printed nothing.
public struct SiteCompileFailure: Error, CustomStringConvertible {
    public let status: Int32
    public let output: String

    public var description: String {
        guard status >= 0 else { return "the site compiler's exit status could not be read" }
        let printed = output.split(separator: "\n").map { $0.trimmingPrefix("Error: ") }.joined(separator: "; ")
        return printed.isEmpty ? "the site compiler exited with status \(status)" : printed
    }
}
