import CLinuxShims
import Engine
import Glibc
import LeaseStore
import Tables
import Wire

/// How a rack runs (the `rackplane rack` flags).
public struct RackOptions: Sendable {
    public var sitePath: String
    public var interface: String?
    public var address: IPv4Address?
    public var stateDirectory: String
    public var threads: Int = 1
    public var metricsPort: UInt16 = 5249
    public var dhcpPort: UInt16 = 67
    public var tftpPort: UInt16 = 69
    public var httpPort: UInt16 = 5248
    /// DNS on UDP and TCP; 0 turns DNS off.
    public var dnsPort: UInt16 = 53
    /// Connected mode: the region's URL and shared secret, and this rack's name there. The
    /// site file is then not used.
    public var regionURL: String?
    public var regionSecret: String?
    public var rackName = ""
    /// Batched waiting window, microseconds (`RingConfiguration.coalesceMicroseconds`).
    public var coalesceMicroseconds: UInt32 = 0
    /// One info line per image-HTTP request (off: the hot path logs nothing by default).
    public var accessLog = false
    public var backend: EngineBackend?
    /// Where TFTP and HTTP serve files from, instead of the tables' `files` (`--files`). A
    /// connected rack defaults to `STATE_DIR/files`, where its image cache links the region's
    /// boot files.
    public var filesRoot: String?
    /// The executable that compiles the site file in a child process (`rackplane`; see
    /// `SiteTableSource`); nil compiles in the rack's own process.
    public var siteCompiler: String?

    /// The files root in effect: the option, else a connected rack's own, else the tables'.
    public var effectiveFilesRoot: String? {
        filesRoot ?? (regionURL == nil ? nil : stateDirectory + "/files")
    }

    public init(sitePath: String, stateDirectory: String) {
        self.sitePath = sitePath
        self.stateDirectory = stateDirectory
    }
}

public struct RackError: Error, CustomStringConvertible {
    public let description: String
}

/// A standalone rack: compiles its site file, serves DHCP (and the metrics endpoint) on the
/// engine, reloads on SIGHUP or when the file changes, and stops cleanly on SIGINT/SIGTERM.
public final class Rack {
    public let options: RackOptions
    public let tables: TableStore
    /// Where tables come from: a site file (standalone) or the region (connected).
    let source: SiteTableSource?
    let region: RegionLink?
    let log: RackLog
    let engine: Engine
    let dhcp: DHCPService

    public init(options: RackOptions, log: RackLog = RackLog()) throws {
        self.options = options
        self.log = log
        guard mkdir(options.stateDirectory, 0o750) == 0 || errno == EEXIST else {
            throw RackError(description: "state directory \(options.stateDirectory): \(String(cString: strerror(errno)))")
        }
        var interface: NetworkInterface?
        if let name = options.interface {
            guard let found = NetworkInterface.named(name) else { throw RackError(description: "no interface named \(name)") }
            interface = found
        }
        let journal = try LeaseJournal(directory: options.stateDirectory)
        let durable = JournalMark()
        let snapshot: TableSnapshot
        if let url = options.regionURL {
            let link = try RegionLink(url: url, secret: options.regionSecret ?? "", name: options.rackName,
                                      stateDirectory: options.stateDirectory, filesRoot: options.effectiveFilesRoot ?? options.stateDirectory + "/files",
                                      durableSequence: durable, log: log)
            region = link
            source = nil
            snapshot = try link.initialSnapshot()
            log.info("tables: generation \(snapshot.generation) from the region at \(url): \(snapshot.subnetCount) subnets, \(snapshot.reservationCount) machines")
        } else {
            let site = SiteTableSource(sitePath: options.sitePath, stateDirectory: options.stateDirectory,
                                       compilerExecutable: options.siteCompiler, log: log)
            source = site
            region = nil
            snapshot = try site.load()
            log.info("tables: generation \(snapshot.generation) from \(options.sitePath): \(snapshot.subnetCount) subnets, \(snapshot.reservationCount) machines")
        }
        tables = TableStore(snapshot)
        if let damage = journal.replayReport.corruption {
            log.error("lease journal: damage at offset \(damage.offset) (\(damage)); kept the records before it")
        }
        dhcp = DHCPService(tables: tables, journal: journal, interface: interface, address: options.address, port: options.dhcpPort,
                           durableMark: durable, log: log)
        let metrics = MetricsService(port: options.metricsPort)
        let tftp = (0..<max(1, options.threads)).map { [tables] _ in TFTPService(tables: tables, port: options.tftpPort, filesRoot: options.effectiveFilesRoot, log: log) }
        let http = (0..<max(1, options.threads)).map { [tables] _ in HTTPService(options: options, tables: tables, log: log) }
        if let boots = region?.boots {
            dhcp.boots = boots
            for service in tftp { service.boots = boots }
            for service in http { service.boots = boots }
        }
        let dns = options.dnsPort == 0 ? [] : (0..<max(1, options.threads)).map { [tables] _ in
            DNSService(tables: tables, port: options.dnsPort, log: log)
        }
        // Ring 0: DHCP and metrics; every ring: TFTP, image HTTP and DNS.
        let handlers = (0..<max(1, options.threads)).map { [dhcp] index in
            RackHandler(services: (index == 0 ? [dhcp, metrics] : []) + [tftp[index], http[index]] + (dns.isEmpty ? [] : [dns[index]]))
        }
        var configuration = RingConfiguration()
        // Fine enough for the DHCP group-commit window (a few ms); TFTP timers are seconds.
        configuration.timerResolutionMilliseconds = 2
        // Room for an image file of up to ~7.5 KiB after its HTTP head (iPXE scripts, small
        // configs and icons go out in one send). Only the pages a reply writes become resident.
        configuration.sendSlotSize = 8192
        // The kernel hands out provided receive buffers in ring order, so every one of them
        // becomes resident once that many datagrams have arrived: 4,096 × 2 KiB was 8 MiB of a
        // busy rack's memory. A batch returns its buffers at its end, and batches hold tens of
        // datagrams, so 1,024 leave ample room; running dry is counted, and the socket's 4 MiB
        // receive buffer holds what arrives meanwhile.
        configuration.datagramBuffers = 1024
        configuration.coalesceMicroseconds = options.coalesceMicroseconds
        engine = Engine(rings: max(1, options.threads), backend: options.backend, configuration: configuration,
                        log: { log.info($0) }) { index in
            handlers[index]
        }
        metrics.render = { [dhcp, tables, tftp, http, dns, region, weak engine] in
            MetricsText.render(dhcp: dhcp, tables: tables, engine: engine?.counters() ?? []) + MetricsText.renderTFTP(tftp)
                + MetricsText.renderHTTP(http) + MetricsText.renderDNS(dns) + (region?.images.renderMetrics() ?? "") + (region?.power.renderMetrics() ?? "") + (region?.boots.renderMetrics() ?? "")
        }
    }

    /// Runs until SIGINT or SIGTERM. The calling thread handles signals and watches the site
    /// file; the ring threads serve.
    public func run() throws {
        // This may not be the main thread (the command line's entry point is async), so the
        // signals get a handler that reports them through a pipe, whichever thread takes them;
        // blocking them here too keeps them off the ring threads, which inherit this mask.
        guard rp_signals_install() == 0 else {
            throw RackError(description: "installing signal handlers: \(String(cString: strerror(errno)))")
        }
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGHUP, SIGINT, SIGTERM] { sigaddset(&signals, signal) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &signals, &previous)
        try engine.start()
        region?.start(store: tables)
        pthread_sigmask(SIG_SETMASK, &previous, nil)
        log.info("rack: serving with \(options.threads) ring(s) on the \(engine.backend.rawValue) backend; DHCP on port \(options.dhcpPort), DNS on \(options.dnsPort), metrics on \(options.metricsPort)")
        region?.events.record("start", "serving generation \(tables.generation) with \(options.threads) ring(s) on the \(engine.backend.rawValue) backend")
        var compiledLeaseNames: UInt64 = 0
        while true {
            let signal = rp_signals_wait(1000)
            if signal == SIGINT || signal == SIGTERM {
                log.info("rack: stopping")
                region?.events.record("stop", "stopping on \(signal == SIGINT ? "SIGINT" : "SIGTERM"); reported at the next start")
                region?.stop()
                break
            }
            if let source {
                if signal == SIGHUP {
                    source.reload(into: tables, reason: "SIGHUP")
                } else if source.changed {
                    source.reload(into: tables, reason: "site file changed")
                } else if dhcp.leaseNames.current.version != compiledLeaseNames {
                let names = dhcp.leaseNames.current
                compiledLeaseNames = names.version
                source.leases = names.names
                    source.reload(into: tables, reason: "\(names.names.count) named leases for DNS")
                }
            }
            engine.wakeAll()
        }
        engine.stop()
        engine.wait()
        log.info("rack: stopped")
    }
}
