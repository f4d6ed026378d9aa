import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// How `rackplane region` was asked to run.
public struct RegionOptions: Sendable {
    public var stateDirectory: String
    /// An existing server; nil runs the embedded cluster under the state directory.
    public var databaseURL: String?
    public var host = "0.0.0.0"
    public var port = 5240
    public var compileDebounce: Duration = .milliseconds(200)
    public var maximumConnections = 6
    /// How often every machine's power state is queried through its rack (zero: never).
    public var powerPollInterval: Duration = .seconds(300)
    /// The caching proxy for machines (squid, supervised by the region).
    public var proxy = ProxyOptions()
    /// How long a commissioning or deploying machine has to report before it fails (seconds).
    public var lifecycleTimeoutSeconds = 1800
    /// The region URL rendered into machines' kernel command lines (report and enlistment);
    /// nil: the URL each rack reached the region at.
    public var bootRegionURL: String?
    /// The kernel command line of every network boot the racks render.
    public var bootKernelOptions = ""
    /// The boot resource (by name) machines boot to enlist, commission and deploy; nil: the
    /// first amd64 one.
    public var bootResource: String?

    public init(stateDirectory: String, databaseURL: String? = nil) {
        self.stateDirectory = stateDirectory
        self.databaseURL = databaseURL
    }
}

/// The region process: database (embedded or not), migrations, first-start credentials, the
/// compiler and the API, stopped together on SIGINT or SIGTERM.
public struct RegionServer {
    public var options: RegionOptions
    public var logger: Logger

    public init(options: RegionOptions, logger: Logger = Logger(label: "rackplane.region")) {
        self.options = options
        self.logger = logger
    }

    /// Runs until SIGINT/SIGTERM; the embedded cluster, if any, is stopped before returning.
    public func run(onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let state = StateDirectory(path: options.stateDirectory)
        try state.create()
        var cluster: EmbeddedCluster?
        let connectionString: String
        if let url = options.databaseURL {
            connectionString = url
        } else {
            guard let binaries = EmbeddedCluster.findBinaries() else {
                throw ClusterError(step: "start", message: "initdb not found: install PostgreSQL (Debian: postgresql) or pass --database-url")
            }
            let embedded = EmbeddedCluster(directory: state.path + "/postgres", binaries: binaries)
            try embedded.start()
            logger.info("embedded PostgreSQL running", metadata: ["directory": "\(embedded.directory)"])
            cluster = embedded
            connectionString = embedded.connectionString
        }
        do {
            try await serve(connectionString: connectionString, state: state, onReady: onReady)
        } catch {
            try? cluster?.stop()
            throw error
        }
        try cluster?.stop()
    }

    private func serve(connectionString: String, state: StateDirectory, onReady: @escaping @Sendable (Int) async -> Void) async throws {
        let pool = PostgresPool(connectionString: connectionString, maximumConnections: options.maximumConnections)
        defer { pool.close() }
        var configured = RegionStore(pool: pool)
        configured.powerVault = try PowerVault.load(from: state)
        configured.lifecycleTimeoutSeconds = options.lifecycleTimeoutSeconds
        let store = configured
        let applied = try await pool.withConnection { try Migrations.apply(on: $0) }
        if !applied.isEmpty { logger.info("schema migrated", metadata: ["versions": "\(applied)"]) }
        let sealed = try await store.sealPlaintextPowerParameters()
        if sealed > 0 { logger.info("power parameters sealed", metadata: ["machines": "\(sealed)"]) }
        if try await !store.powerKeyOpensStoredParameters() {
            logger.error("\(state.path)/\(PowerVault.keyFile) does not open the power parameters in the database: copy power-key from the region that sealed them (docs/power.md); until then power calls fail")
        }
        try await pool.withConnection { try BootFileRoutes.deleteAbandonedUploads(on: $0) }

        if let token = try await store.bootstrapAdmin() {
            try state.write(token + "\n", to: StateDirectory.adminTokenFile)
            // Shown once; the database keeps only its digest.
            print("admin token (also in \(state.path)/\(StateDirectory.adminTokenFile)): \(token)")
            fflush(nil)
        }
        let secret = try await store.rackSecret()
        try state.write(secret + "\n", to: StateDirectory.rackSecretFile)

        let metrics = RegionMetrics()
        let boot = CompilerBootSettings(
            tokenKey: BootTokenKey(vault: store.powerVault), regionURL: options.bootRegionURL,
            kernelOptions: options.bootKernelOptions, bootResource: options.bootResource)
        let compiler = CompilerService(connectionString: connectionString, debounce: options.compileDebounce, boot: boot,
                                       metrics: metrics, logger: logger)
        let logger = self.logger
        var proxyService: ProxyService?
        if options.proxy.enabled {
            if let squid = options.proxy.installedSquid {
                let subnets = try await store.read { try ProxyService.managedSubnets(on: $0) }
                proxyService = ProxyService(
                    options: options.proxy, squid: squid, stateDirectory: state.path, subnets: subnets,
                    connectionString: connectionString, metrics: metrics, logger: logger)
            } else {
                // A region without its proxy still provisions; machines fetch packages directly.
                logger.warning("proxy: \(options.proxy.squidPath) not found: running without the caching proxy (apt-get install squid, or --proxy off to silence this)")
            }
        }
        let supervisedProxy = proxyService
        let advertisement = ProxyAdvertisement(
            enabled: proxyService != nil, port: options.proxy.port, url: options.proxy.url, listenHost: options.host,
            serving: { supervisedProxy?.isServing ?? false })
        let router = RegionAPI.router(store: store, rackSecret: secret, metrics: metrics, announcer: compiler.announcer,
                                      recentSnapshots: compiler.recentSnapshots, proxy: advertisement)
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: "rackplane-region"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("region API listening", metadata: ["port": "\(port)"])
                await onReady(port)
            },
            logger: logger)
        var services: [any Service] = [app, compiler, PowerPoller(store: store, interval: options.powerPollInterval, logger: logger),
                                       LifecycleTimeouts(store: store, timeoutSeconds: options.lifecycleTimeoutSeconds, logger: logger)]
        // Last, so stopped first: squid goes before the API.
        if let proxyService { services.append(proxyService) }
        let group = ServiceGroup(configuration: .init(
            // Shut down in reverse: the compiler first, which ends the held-open rack streams
            // that the server would otherwise wait for.
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// The region's state directory: the embedded cluster, the first admin token and the rack
/// secret (both 0600).
public struct StateDirectory: Sendable {
    public static let adminTokenFile = "admin-token"
    public static let rackSecretFile = "rack-secret"

    public let path: String

    public init(path: String) { self.path = path }

    public func create() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// Writes a secret: created 0600 before any byte is written, replaced atomically.
    public func write(_ text: String, to name: String) throws {
        let target = path + "/" + name
        let temporary = target + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StateDirectoryError(path: temporary, errno: errno) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0, rename(temporary, target) == 0 else {
            unlink(temporary)
            throw StateDirectoryError(path: target, errno: errno)
        }
    }

    public func read(_ name: String) throws -> String {
        try String(contentsOfFile: path + "/" + name, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

public struct StateDirectoryError: Error, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String { "\(path): \(String(cString: strerror(errno)))" }
}
