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
        """)

    @Option(help: "The site file to serve (standalone mode).")
    var site: String?

    @Option(help: "The region's URL, http://HOST:5240 (connected mode: tables come from the region, leases go back).")
    var region: String?

    @Option(help: "The region's shared secret (`rackplane region secret` shows it); connected mode.")
    var secret: String?

    @Option(help: "This rack's name at the region (default: the host name).")
    var name: String?

    @Option(help: "The interface to serve DHCP on (SO_BINDTODEVICE).")
    var interface: String?

    @Option(help: "The rack's address on that interface (default: from IP_PKTINFO / the interface).")
    var address: String?

    @Option(help: "Where leases and the last good tables are kept.")
    var stateDir: String

    @Option(help: "Ring threads.")
    var threads: Int = 1

    @Option(help: "Port of the Prometheus /metrics endpoint.")
    var metricsPort: UInt16 = 5249

    @Option(help: "DHCP server port (67; another only for tests).")
    var dhcpPort: UInt16 = 67

    @Option(help: "TFTP server port (69; another only for tests).")
    var tftpPort: UInt16 = 69

    @Option(help: "Image HTTP server port (5248).")
    var httpPort: UInt16 = 5248

    @Option(help: "DNS server port, UDP and TCP (53; 0 turns DNS off).")
    var dnsPort: UInt16 = 53

    @Option(help: "Batching window in microseconds: with a request ready, wait this long for more before answering, so a steady stream costs one wake-up per batch (io_uring, Linux 6.12+; off while TFTP transfers or TCP connections are active; 0 turns it off).")
    var coalesceUs: UInt32 = 0

    @Flag(help: "Log one line per image HTTP request (client, machine, request, status, bytes).")
    var accessLog = false

    @Option(help: "io_uring, epoll or memory (default: io_uring where the kernel allows it).")
    var backend: String?

    @Option(help: "Serve TFTP and HTTP files from this directory instead of the site file's `files` (connected mode default: STATE_DIR/files, where the region's boot files are linked).")
    var files: String?

    func validate() throws {
        guard (site == nil) != (region == nil) else {
            throw ValidationError("give either --site FILE (standalone) or --region URL --secret S (connected)")
        }
        if region != nil, secret == nil { throw ValidationError("--region needs --secret (see `rackplane region secret`)") }
    }

    func run() throws {
        var options = RackOptions(sitePath: site ?? "", stateDirectory: stateDir)
        options.regionURL = region
        options.regionSecret = secret
        options.rackName = name ?? Self.hostName()
        options.interface = interface
        if let address {
            guard let parsed = IPv4Address(address) else { throw ValidationError("--address \(address) is not an IPv4 address") }
            options.address = parsed
        }
        options.threads = threads
        options.metricsPort = metricsPort
        options.dhcpPort = dhcpPort
        options.tftpPort = tftpPort
        options.httpPort = httpPort
        options.dnsPort = dnsPort
        options.coalesceMicroseconds = coalesceUs
        options.accessLog = accessLog
        options.filesRoot = files
        if let backend {
            guard let chosen = EngineBackend(rawValue: backend) else { throw ValidationError("--backend must be io_uring, epoll or memory") }
            options.backend = chosen
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
