import Foundation
import ArgumentParser
import Logging
import Region

struct RegionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "region",
        abstract: "Run the region: PostgreSQL state, REST API on :5240, table compiler.",
        subcommands: [RegionRunCommand.self, RegionSecretCommand.self],
        defaultSubcommand: RegionRunCommand.self)
}

struct RegionRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the region (the default: `rackplane region --state-dir DIR`).",
        discussion: """
        Without --database-url the region creates and runs its own PostgreSQL cluster under
        DIR/postgres (the system's initdb and pg_ctl, a unix socket only) and stops it on exit.
        On first start it prints an admin API token (kept in DIR/admin-token, mode 0600) and
        creates the rack secret (DIR/rack-secret). Stops on SIGINT or SIGTERM.

        Settings come from flags, then RACKPLANE_REGION_<SETTING> variables (RACKPLANE_REGION_STATE_DIR,
        RACKPLANE_REGION_DATABASE_URL, RACKPLANE_REGION_LISTEN, …), then /etc/rackplane/region.yaml
        (state_dir, database_url, listen, proxy, proxy_port, proxy_cache_size, proxy_allow_localhost,
        proxy_url, lifecycle_timeout, boot_region_url, boot_kernel_options, boot_resource; another
        file with --config).

        The region also runs a caching HTTP proxy for machines on port 8000: Debian's squid,
        configured to serve the managed subnets only, started and stopped with the region
        (docs/proxy.md). Without squid installed the region runs without it and says so once.
        """)

    static let settingKeys: Set<String> = [
        "state_dir", "database_url", "listen",
        "proxy", "proxy_port", "proxy_cache_size", "proxy_allow_localhost", "proxy_url",
        "lifecycle_timeout", "boot_region_url", "boot_kernel_options", "boot_resource",
    ]

    @Option(help: "Settings file (default /etc/rackplane/region.yaml when it exists).")
    var config: String?

    @Option(help: "Where the embedded database, the first admin token and the rack secret are kept.")
    var stateDir: String?

    @Option(help: "libpq connection string or postgresql:// URL of an existing server (several regions may share one).")
    var databaseURL: String?

    @Option(help: "Address and port of the REST API and web UI (default 0.0.0.0:5240).")
    var listen: String?

    @Option(help: "The caching proxy for machines: on (the default) or off.")
    var proxy: String?

    @Option(help: "The proxy's TCP port (default 8000).")
    var proxyPort: Int?

    @Option(help: "The proxy's disk cache in MiB (default 4096), under STATE_DIR/proxy/cache.")
    var proxyCacheSize: Int?

    @Option(help: "Also serve clients on the region's own host (127.0.0.0/8, ::1): true or false (default false).")
    var proxyAllowLocalhost: String?

    @Option(help: "The proxy URL machines are given (default http://HOST:PORT/, HOST being how they reach the API).")
    var proxyURL: String?

    @Option(help: "Seconds a commissioning or deploying machine has to report before it fails (default 1800).")
    var lifecycleTimeout: Int?

    @Option(help: "Region URL machines report to and enlist at (default: the URL each rack reached the region at).")
    var bootRegionURL: String?

    @Option(help: "Kernel command line of every network boot the racks render (e.g. \"console=ttyS0\").")
    var bootKernelOptions: String?

    @Option(help: "Boot resource (name) machines boot to enlist, commission and deploy (default: the first amd64 one).")
    var bootResource: String?

    /// `ADDRESS:PORT`, `[IPv6]:PORT` or `:PORT` (all addresses).
    static func parseListen(_ text: String) -> (host: String, port: Int)? {
        guard let separator = text.lastIndex(of: ":"), let port = Int(text[text.index(after: separator)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<separator])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// The options after the environment and the settings file had their say.
    func resolved() throws -> RegionOptions {
        let settings = try DaemonSettings(command: "region", explicitPath: config, keys: Self.settingKeys)
        var options = RegionOptions(
            stateDirectory: try settings.required("state_dir", flag: stateDir),
            databaseURL: settings.string("database_url", flag: databaseURL))
        let address = settings.string("listen", flag: listen) ?? "0.0.0.0:5240"
        guard let (host, port) = Self.parseListen(address) else {
            throw SettingsError("\(settings.origin("listen", flag: listen != nil)) must be ADDRESS:PORT, e.g. 0.0.0.0:5240 or [::1]:5240 (got \(address))")
        }
        options.host = host
        options.port = port
        options.proxy.enabled = try settings.bool("proxy", flag: try Self.parseSwitch(proxy, "--proxy"), default: true)
        options.proxy.port = try settings.integer("proxy_port", flag: proxyPort, default: 8000)
        guard (1...65535).contains(options.proxy.port) else {
            throw SettingsError("\(settings.origin("proxy_port", flag: proxyPort != nil)) must be a port from 1 to 65535 (got \(options.proxy.port))")
        }
        options.proxy.cacheMegabytes = try settings.integer("proxy_cache_size", flag: proxyCacheSize, default: 4096)
        guard options.proxy.cacheMegabytes >= 16 else {
            throw SettingsError("\(settings.origin("proxy_cache_size", flag: proxyCacheSize != nil)) is in MiB and must be at least 16 (got \(options.proxy.cacheMegabytes))")
        }
        options.proxy.allowLocalhost = try settings.bool(
            "proxy_allow_localhost", flag: try Self.parseSwitch(proxyAllowLocalhost, "--proxy-allow-localhost"), default: false)
        if let url = settings.string("proxy_url", flag: proxyURL) {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw SettingsError("\(settings.origin("proxy_url", flag: proxyURL != nil)) must be an http:// URL, e.g. http://198.18.0.2:8000/ (got \(url))")
            }
            options.proxy.url = url
        }

        options.lifecycleTimeoutSeconds = try settings.integer("lifecycle_timeout", flag: lifecycleTimeout, default: 1800)
        guard options.lifecycleTimeoutSeconds > 0 else {
            throw SettingsError("\(settings.origin("lifecycle_timeout", flag: lifecycleTimeout != nil)) must be a positive number of seconds")
        }
        if let url = settings.string("boot_region_url", flag: bootRegionURL) {
            guard url.hasPrefix("http://") || url.hasPrefix("https://"), !url.contains(" ") else {
                throw SettingsError("\(settings.origin("boot_region_url", flag: bootRegionURL != nil)) must be an http:// or https:// URL (got \(url))")
            }
            options.bootRegionURL = url
        }
        options.bootKernelOptions = settings.string("boot_kernel_options", flag: bootKernelOptions) ?? ""
        options.bootResource = settings.string("boot_resource", flag: bootResource)
        return options
    }

    /// A true/false flag given as text, so that `--proxy off` reads naturally.
    static func parseSwitch(_ text: String?, _ flag: String) throws -> Bool? {
        guard let text else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw SettingsError("\(flag) must be on or off, not \(text)")
        }
    }

    func run() async throws {
        let options: RegionOptions
        do {
            options = try resolved()
        } catch let error as SettingsError {
            throw fail("region: \(error)")
        }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        do {
            try await RegionServer(options: options).run()
        } catch {
            throw fail("region: \(error)")
        }
    }
}

struct RegionSecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Print the shared secret racks enrol with (created by the region's first start).")

    @Option(help: "Settings file (default /etc/rackplane/region.yaml when it exists).")
    var config: String?

    @Option(help: "The region's state directory (default: the region's settings).")
    var stateDir: String?

    func run() throws {
        let stateDir: String
        do {
            let settings = try DaemonSettings(command: "region", explicitPath: config, keys: RegionRunCommand.settingKeys)
            stateDir = try settings.required("state_dir", flag: self.stateDir)
        } catch let error as SettingsError {
            throw fail("region secret: \(error)")
        }
        let state = StateDirectory(path: stateDir)
        guard let secret = try? state.read(StateDirectory.rackSecretFile), !secret.isEmpty else {
            throw fail("no rack secret in \(stateDir): the region creates it on its first start")
        }
        print(secret)
    }
}
