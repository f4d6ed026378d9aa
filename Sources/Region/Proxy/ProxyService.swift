import ChildProcesses
import Foundation
import Glibc
import Logging
import ServiceLifecycle
import Synchronization

/// How the region runs its caching proxy (docs/proxy.md).
public struct ProxyOptions: Sendable {
    /// `--proxy off` runs the region without one.
    public var enabled = true
    public var port = 8000
    public var cacheMegabytes = 4096
    /// Serve clients on the region's own host too (127.0.0.0/8, ::1).
    public var allowLocalhost = false
    /// What machines are told to use; nil: `http://` + the host they reach the API by + the port.
    public var url: String?
    /// `RACKPLANE_SQUID` names another binary (as `RACKPLANE_PG_BIN` does for PostgreSQL).
    public var squidPath = ProcessInfo.processInfo.environment["RACKPLANE_SQUID"] ?? "/usr/sbin/squid"

    public init() {}

    /// The squid binary, if installed.
    public var installedSquid: String? { access(squidPath, X_OK) == 0 ? squidPath : nil }
}

/// The region's caching proxy: Debian's squid, configured and supervised by the region.
///
/// It writes `STATE/proxy/squid.conf` (only the managed subnets may use it), initialises the
/// cache once (`squid -z`), and runs `squid -N` as its child: restarted if it dies, stopped
/// (SIGTERM, then SIGKILL after 10 s) when the region stops, and killed by the kernel if the
/// region dies first (setpriv's parent-death signal). When a subnet is created, changed or
/// deleted — PostgreSQL's `rackplane_model_changed` notification, the same one that wakes the
/// compiler — the ACLs are rewritten and squid reconfigured (SIGHUP, what `squid -k
/// reconfigure` sends), but only if the set of CIDRs changed.
public final class ProxyService: Service, Sendable {
    let options: ProxyOptions
    let squid: String
    let connectionString: String
    let metrics: RegionMetrics
    let logger: Logger
    /// Written by the subnet watcher, read when squid (re)starts.
    private let configuration: Mutex<SquidConfiguration>
    /// The running squid's pid, 0 when none: what stop and reconfigure signal.
    private let child = Atomic<Int32>(0)
    private let stopping = Atomic<Bool>(false)
    /// When the region is root: the unprivileged user squid runs as (Debian's `proxy`).
    private let account: (name: String, uid: uid_t, gid: gid_t)?

    static let setpriv = "/usr/bin/setpriv"
    /// How long squid has to exit after SIGTERM before it is killed.
    static let stopGrace: Duration = .seconds(10)

    public init(options: ProxyOptions, squid: String, stateDirectory: String, subnets: [String],
                connectionString: String, metrics: RegionMetrics, logger: Logger) {
        self.options = options
        self.squid = squid
        self.connectionString = connectionString
        self.metrics = metrics
        self.logger = logger
        self.configuration = Mutex(SquidConfiguration(
            directory: stateDirectory + "/proxy", port: options.port, cacheMegabytes: options.cacheMegabytes,
            allowLocalhost: options.allowLocalhost, visibleHostname: Self.hostName(), subnets: subnets))
        if geteuid() == 0 {
            let user = getpwnam("proxy") ?? getpwnam("nobody")
            account = user.map { (String(cString: $0.pointee.pw_name), $0.pointee.pw_uid, $0.pointee.pw_gid) }
        } else {
            account = nil
        }
    }

    /// The CIDRs of every subnet in the model.
    public static func managedSubnets(on connection: PostgresConnection) throws -> [String] {
        try connection.query("SELECT cidr::text AS cidr FROM subnets ORDER BY cidr").rows.compactMap { $0["cidr"] }
    }

    public func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    // Blocking waits (waitid, libpq's socket) get threads of their own. The
                    // supervisor thread must also outlive squid: the parent-death signal
                    // follows the thread that spawned it.
                    let remaining = Atomic<Int>(2)
                    let finish: @Sendable () -> Void = {
                        if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { continuation.resume() }
                    }
                    let supervisor = Thread { [self] in
                        supervise()
                        finish()
                    }
                    supervisor.name = "rackplane-proxy"
                    let watcher = Thread { [self] in
                        watchSubnets()
                        finish()
                    }
                    watcher.name = "rackplane-proxy-acl"
                    supervisor.start()
                    watcher.start()
                }
            } onGracefulShutdown: { [self] in
                stop()
            }
        } onCancel: { [self] in
            stop()
        }
    }

    /// SIGTERM to squid now, SIGKILL if it is still there after the grace period.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let pid = child.load(ordering: .acquiring)
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        let logger = self.logger
        Thread.detachNewThread { [self] in
            Thread.sleep(forTimeInterval: Self.stopGrace.seconds)
            // Still ours: the supervisor clears it before reaping, so the pid is not reused.
            if child.load(ordering: .acquiring) == pid {
                logger.warning("proxy: squid did not stop on SIGTERM; killing it", metadata: ["pid": "\(pid)"])
                kill(pid, SIGKILL)
            }
        }
    }

    private var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Whether squid is running now (between its start and its exit).
    public var isServing: Bool { child.load(ordering: .acquiring) > 0 }

    // MARK: squid's process

    private func supervise() {
        do {
            try prepare()
        } catch {
            logger.error("proxy: cannot prepare \(configuration.withLock { $0.directory }): \(error); running without the proxy")
            return
        }
        var delay = 1.0
        while !isStopping {
            let current = configuration.withLock { $0 }
            // A pid file or shared memory left by a squid that did not exit cleanly (killed
            // before its handlers were in place) would stop this one starting.
            unlink(current.pidFile)
            removeSharedMemory(of: current)
            let pid: pid_t
            do {
                pid = try ChildProcess.spawn(command(["-N", "-n", current.serviceName, "-f", current.configurationFile]))
            } catch {
                logger.error("proxy: \(error); running without the proxy")
                return
            }
            child.store(pid, ordering: .releasing)
            // A stop that came while spawning did not see the pid.
            if isStopping { kill(pid, SIGTERM) }
            metrics.setProxy(up: true)
            logger.info("proxy: squid running", metadata: ["pid": "\(pid)", "port": "\(current.port)", "subnets": "\(current.clientNetworks.count)"])
            let started = ContinuousClock.now
            ChildProcess.waitForExit(pid)
            child.store(0, ordering: .releasing)
            let status = ChildProcess.reap(pid)
            // squid removes them itself on a clean exit, not when a signal caught it starting.
            removeSharedMemory(of: current)
            metrics.setProxy(up: false)
            if isStopping {
                logger.info("proxy: squid stopped", metadata: ["status": "\(status)"])
                break
            }
            metrics.countProxyRestart()
            // Quick deaths (a port in use, a bad setting) back off to 30 s; a long run resets it.
            if ContinuousClock.now - started > .seconds(60) { delay = 1 }
            logger.error("proxy: squid exited (status \(status)); restarting in \(Int(delay)) s. \(current.cacheLog) ends: \(lastLines(of: current.cacheLog))")
            sleepUnlessStopping(delay)
            delay = min(delay * 2, 30)
        }
    }

    /// The directories (owned by squid's user), the configuration, and the cache's swap
    /// directories the first time.
    private func prepare() throws {
        let current = configuration.withLock { $0 }
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: current.cacheDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        if let account {
            for path in [current.directory, current.cacheDirectory, current.accessLog, current.cacheLog] where fileManager.fileExists(atPath: path) {
                guard chown(path, account.uid, account.gid) == 0 else {
                    throw StateDirectoryError(path: path, errno: errno)
                }
            }
            // squid's user must walk through the state directory (0700) to its own; the state
            // directory's files stay 0600.
            let parent = (current.directory as NSString).deletingLastPathComponent
            var status = stat()
            if stat(parent, &status) == 0, status.st_mode & 0o001 == 0 { chmod(parent, (status.st_mode & 0o7777) | 0o001) }
        }
        // Under the lock: the subnet watcher may be rewriting it already.
        try configuration.withLock { try write($0) }
        // ufs makes 16 first-level directories, 00 to 0F; 00 missing means never initialised.
        if !fileManager.fileExists(atPath: current.cacheDirectory + "/00") {
            logger.info("proxy: initialising the cache", metadata: ["directory": "\(current.cacheDirectory)", "megabytes": "\(current.cacheMegabytes)"])
            removeSharedMemory(of: current)
            let (status, output) = try ChildProcess.run(command(["-N", "-z", "-n", current.serviceName, "-f", current.configurationFile]))
            if status != 0 {
                let printed = output.split(separator: "\n").suffix(5).joined(separator: " | ")
                logger.error("proxy: squid -z exited with \(status): \(printed)")
            }
        }
    }

    /// squid's command line: under setpriv, which makes the kernel end squid if the region
    /// dies, and, when the region is root, drops to squid's own user first.
    private func command(_ arguments: [String]) -> [String] {
        guard access(Self.setpriv, X_OK) == 0 else { return [squid] + arguments }
        var prefix = [Self.setpriv, "--pdeathsig", "TERM"]
        if let account { prefix += ["--reuid", String(account.uid), "--regid", String(account.gid), "--init-groups"] }
        return prefix + [squid] + arguments
    }

    /// Replaces squid.conf atomically (squid may be reading it).
    private func write(_ configuration: SquidConfiguration) throws {
        let temporary = configuration.configurationFile + ".tmp"
        try configuration.render().write(toFile: temporary, atomically: false, encoding: .utf8)
        chmod(temporary, 0o644)
        guard rename(temporary, configuration.configurationFile) == 0 else {
            throw StateDirectoryError(path: configuration.configurationFile, errno: errno)
        }
    }

    /// Removes the service's segments in /dev/shm (`<service>-cf__metadata.shm`, …). Only when
    /// no squid of ours runs: the name is this state directory's alone, so they are stale, and
    /// would otherwise outlive a state directory that is gone.
    private func removeSharedMemory(of configuration: SquidConfiguration) {
        let prefix = configuration.serviceName + "-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm") else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(".shm") {
            unlink("/dev/shm/" + name)
        }
    }

    private func sleepUnlessStopping(_ seconds: Double) {
        var left = seconds
        while left > 0, !isStopping {
            Thread.sleep(forTimeInterval: min(left, 0.1))
            left -= 0.1
        }
    }

    private func lastLines(of path: String) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n").suffix(5).joined(separator: " | ")
    }

    // MARK: the managed subnets

    /// Subnet changes come in bursts (a script creating 32 subnets), and squid fails a
    /// reconfigure that arrives while it is still applying the one before (it exits with
    /// "check failed: NHttpSockets > 0"): changes are applied after this much quiet, and at
    /// most once per `reloadSpacing`.
    static let reloadQuiet: Duration = .milliseconds(750)
    static let reloadSpacing: Duration = .seconds(2)

    /// LISTENs for model changes on a connection of its own; a change to `subnets` reloads the
    /// CIDRs. A lost connection is reopened within a second, and reloads on reconnecting.
    private func watchSubnets() {
        let clock = ContinuousClock()
        while !isStopping {
            do {
                let connection = try PostgresConnection(connectionString)
                try connection.query("LISTEN \(CompilerService.modelChannel)")
                // Whatever changed before this LISTEN (since the region read the subnets at start).
                try reload(on: connection)
                var changedAt: ContinuousClock.Instant?
                var reloadedAt = clock.now
                while !isStopping {
                    var descriptor = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
                    _ = poll(&descriptor, 1, 250)
                    // The payload is the table that changed (notify_model_changed).
                    if try connection.drainNotifications().contains(where: { $0.payload == "subnets" }) {
                        changedAt = clock.now
                    }
                    if let changed = changedAt, clock.now - changed >= Self.reloadQuiet,
                       clock.now - reloadedAt >= Self.reloadSpacing {
                        try reload(on: connection)
                        changedAt = nil
                        reloadedAt = clock.now
                    }
                }
            } catch {
                logger.error("proxy: lost the database connection that watches subnets; retrying", metadata: ["error": "\(error)"])
                sleepUnlessStopping(1)
            }
        }
    }

    private func reload(on connection: PostgresConnection) throws {
        let subnets = try Self.managedSubnets(on: connection)
        let changed = try configuration.withLock { configuration -> SquidConfiguration? in
            var updated = configuration
            updated.subnets = subnets
            guard updated.clientNetworks != configuration.clientNetworks else { return nil }
            try write(updated)
            configuration = updated
            return updated
        }
        guard let changed else { return }
        metrics.countProxyReconfigure()
        let pid = child.load(ordering: .acquiring)
        logger.info("proxy: managed subnets changed; reconfiguring squid", metadata: ["subnets": "\(changed.clientNetworks.joined(separator: " "))"])
        if pid > 0 { kill(pid, SIGHUP) }
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "rackplane-region" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "rackplane-region" : name
    }
}
