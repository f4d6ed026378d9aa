import Foundation
import Glibc
import ArgumentParser
import Engine
import Rack
import Wire

struct RackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rack",
        abstract: "Run a rack: DHCP, TFTP, image HTTP and DNS from compiled tables.",
        discussion: """
        Standalone mode serves the world a site file describes (docs/site-file.md). The file is
        compiled on start and again on SIGHUP or when it changes; a bad file leaves the previous
        tables in service. Leases are journaled in the state directory and survive restarts.
        Needs root, or CAP_NET_BIND_SERVICE (port 67) and CAP_NET_RAW (SO_BINDTODEVICE and
        link-layer replies to clients without an address).

        Settings come from flags, then RACKPLANE_RACK_<SETTING> variables (RACKPLANE_RACK_STATE_DIR,
        RACKPLANE_RACK_SECRET…), then /etc/rackplane/rack.yaml (the long options in snake_case:
        state_dir, region, secret_file, interface, metrics_port…; another file with --config).
        """)

    static let settingKeys: Set<String> = [
        "site", "region", "secret", "secret_file", "name", "interface", "address", "state_dir", "threads", "metrics_port",
        "dhcp_port", "tftp_port", "http_port", "dns_port", "coalesce_us", "access_log", "backend", "files",
    ]

    @Option(help: "Settings file (default /etc/rackplane/rack.yaml when it exists).")
    var config: String?

    @Option(help: "The site file to serve (standalone mode).")
    var site: String?

    @Option(help: "The region's URL, http://HOST:5240 (connected mode: tables come from the region, leases go back).")
    var region: String?

    @Option(help: "The region's shared secret (`rackplane region secret` shows it); connected mode.")
    var secret: String?

    @Option(help: "A file holding the region's shared secret (kept out of the process list and the unit file).")
    var secretFile: String?

    @Option(help: "This rack's name at the region (default: the host name).")
    var name: String?

    @Option(help: "The interface to serve DHCP on (SO_BINDTODEVICE).")
    var interface: String?

    @Option(help: "The rack's address on that interface (default: from IP_PKTINFO / the interface).")
    var address: String?

    @Option(help: "Where leases and the last good tables are kept.")
    var stateDir: String?

    @Option(help: "Ring threads (default 1).")
    var threads: Int?

    @Option(help: "Port of the Prometheus /metrics endpoint (default 5249).")
    var metricsPort: UInt16?

    @Option(help: "DHCP server port (67; another only for tests).")
    var dhcpPort: UInt16?

    @Option(help: "TFTP server port (69; another only for tests).")
    var tftpPort: UInt16?

    @Option(help: "Image HTTP server port (5248).")
    var httpPort: UInt16?

    @Option(help: "DNS server port, UDP and TCP (53; 0 turns DNS off).")
    var dnsPort: UInt16?

    @Option(help: "Longest batching window in microseconds (default 2000): under steady load a ready request may wait up to its service's budget (DHCP 2 ms, DNS 0.5 ms), never more than this, for others to share one wake-up (io_uring, Linux 6.12+; only when the arrival rate promises company; off while TFTP transfers or TCP connections are active; 0 turns it off).")
    var coalesceUs: UInt32?

    @Flag(inversion: .prefixedNo, help: "Log one line per image HTTP request (client, machine, request, status, bytes).")
    var accessLog: Bool?

    @Option(help: "io_uring, epoll or memory (default: io_uring where the kernel allows it).")
    var backend: String?

    @Option(help: "Serve TFTP and HTTP files from this directory instead of the site file's `files` (connected mode default: STATE_DIR/files, where the region's boot files are linked).")
    var files: String?

    /// The options after the environment (RACKPLANE_RACK_<SETTING>) and the settings file had
    /// their say.
    func resolved() throws -> RackOptions {
        let settings = try DaemonSettings(command: "rack", explicitPath: config, keys: Self.settingKeys)
        let site = settings.string("site", flag: site)
        let region = settings.string("region", flag: region)
        guard (site == nil) != (region == nil) else {
            throw SettingsError("give either --site FILE (standalone) or --region URL --secret S (connected)")
        }
        var secret = settings.string("secret", flag: secret)
        if secret == nil, let file = settings.string("secret_file", flag: secretFile) {
            do {
                secret = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw SettingsError("\(settings.origin("secret_file", flag: secretFile != nil)): cannot read \(file): \(error.localizedDescription)")
            }
        }
        if region != nil, secret?.isEmpty ?? true {
            throw SettingsError("--region needs --secret or --secret-file (see `rackplane region secret`)")
        }
        var options = RackOptions(sitePath: site ?? "", stateDirectory: try settings.required("state_dir", flag: stateDir))
        options.regionURL = region
        options.regionSecret = secret
        options.rackName = settings.string("name", flag: name) ?? Self.hostName()
        options.interface = settings.string("interface", flag: interface)
        if let address = settings.string("address", flag: address) {
            guard let parsed = IPv4Address(address) else {
                throw SettingsError("\(settings.origin("address", flag: self.address != nil)) \(address) is not an IPv4 address")
            }
            options.address = parsed
        }
        options.threads = try settings.integer("threads", flag: threads, default: 1)
        options.metricsPort = try settings.integer("metrics_port", flag: metricsPort, default: 5249)
        options.dhcpPort = try settings.integer("dhcp_port", flag: dhcpPort, default: 67)
        options.tftpPort = try settings.integer("tftp_port", flag: tftpPort, default: 69)
        options.httpPort = try settings.integer("http_port", flag: httpPort, default: 5248)
        options.dnsPort = try settings.integer("dns_port", flag: dnsPort, default: 53)
        options.coalesceMicroseconds = try settings.integer("coalesce_us", flag: coalesceUs, default: 2000)
        options.accessLog = try settings.bool("access_log", flag: accessLog, default: false)
        options.filesRoot = settings.string("files", flag: files)
        // This very binary (even if an upgrade replaced the file since), so the compiler is the
        // rack's own version.
        options.siteCompiler = "/proc/self/exe"
        if let backend = settings.string("backend", flag: backend) {
            guard let chosen = EngineBackend(rawValue: backend) else {
                throw SettingsError("\(settings.origin("backend", flag: self.backend != nil)) must be io_uring, epoll or memory")
            }
            options.backend = chosen
        }
        return options
    }

    func run() throws {
        let options: RackOptions
        do {
            options = try resolved()
        } catch let error as SettingsError {
            throw fail("rack: \(error)")
        }
        do {
            let rack = try Rack(options: options)
            try rack.run()
        } catch {
            throw fail("rack: \(error)")
        }
    }
}

extension RackCommand {
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "rack" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
