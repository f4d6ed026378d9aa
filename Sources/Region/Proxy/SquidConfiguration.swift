/// The squid.conf the region writes for its caching proxy: a pure function of the settings and
/// the managed subnets, so what machines may reach is testable without squid.
///
/// Everything squid writes goes under `directory` (cache, logs, pid file, core dumps), so the
/// proxy needs nothing in /var and runs as the region's own user.
public struct SquidConfiguration: Sendable, Equatable {
    /// `STATE/proxy`: holds `squid.conf`, `cache/`, `access.log`, `cache.log`, `squid.pid`.
    public var directory: String
    public var port: Int
    /// The disk cache's size in MiB.
    public var cacheMegabytes: Int
    /// Also serve clients on the region's own host (127.0.0.0/8, ::1): off unless the operator asks.
    public var allowLocalhost: Bool
    /// The name squid signs its error pages and `X-Cache` headers with.
    public var visibleHostname: String
    /// Managed subnets' CIDRs, as the database spells them; the only clients served.
    public var subnets: [String]

    public init(directory: String, port: Int = 8000, cacheMegabytes: Int = 4096, allowLocalhost: Bool = false,
                visibleHostname: String = "rackplane-region", subnets: [String] = []) {
        self.directory = directory
        self.port = port
        self.cacheMegabytes = cacheMegabytes
        self.allowLocalhost = allowLocalhost
        self.visibleHostname = visibleHostname
        self.subnets = subnets
    }

    public var configurationFile: String { directory + "/squid.conf" }
    public var cacheDirectory: String { directory + "/cache" }
    public var pidFile: String { directory + "/squid.pid" }
    public var accessLog: String { directory + "/access.log" }
    public var cacheLog: String { directory + "/cache.log" }

    /// squid's `-n` service name, which also names its shared-memory segments in /dev/shm:
    /// "squid" by default, so two squids on one host (two regions, or Debian's own) would share
    /// them and the second would refuse to start. One per state directory instead; squid
    /// accepts letters and digits only.
    public var serviceName: String {
        var hash: UInt32 = 0x811c_9dc5  // FNV-1a
        for byte in directory.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        let hex = String(hash, radix: 16)
        return "rackplane" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// The subnets in a stable order without repeats: two lists naming the same subnets render
    /// the same file, and the region reconfigures squid only when this set changes.
    public var clientNetworks: [String] { Array(Set(subnets)).sorted() }

    /// The `acl` and `http_access` lines: who may use the proxy, and for what.
    public var accessRules: [String] {
        var lines: [String] = []
        // squid refuses an acl with no values; an empty set of subnets simply allows nobody.
        for network in clientNetworks { lines.append("acl managed src \(network)") }
        if allowLocalhost { lines.append("acl region_host src 127.0.0.0/8 ::1") }
        lines += [
            "acl SSL_ports port 443",
            "acl Safe_ports port 80 443 21 1025-65535",
            "acl CONNECT method CONNECT",
            "http_access deny !Safe_ports",
            "http_access deny CONNECT !SSL_ports",
            // Machines must not reach what listens only on the region's loopback (through us,
            // it would look local).
            "http_access deny to_localhost",
        ]
        if !clientNetworks.isEmpty { lines.append("http_access allow managed") }
        if allowLocalhost { lines.append("http_access allow region_host") }
        lines.append("http_access deny all")
        return lines
    }

    public func render() -> String {
        var lines = [
            "# Written by rackplane region; rewritten when the managed subnets change. Do not edit.",
            "http_port \(port)",
            "visible_hostname \(visibleHostname)",
            "",
        ]
        lines += accessRules
        lines += [
            "",
            "cache_dir ufs \(cacheDirectory) \(cacheMegabytes) 16 256",
            // Packages and installer images are large; squid's 4 MB default would cache none of them.
            "maximum_object_size 1024 MB",
            "cache_mem 64 MB",
            // A package file's name carries its version: once fetched it never changes (MAAS's rule).
            "refresh_pattern \\.(deb|udeb|rpm)$ 129600 100% 129600",
            // Indexes change with every mirror push: revalidate them.
            "refresh_pattern (Release|Release\\.gpg|InRelease|Packages(\\.gz|\\.xz)?|Sources(\\.gz|\\.xz)?)$ 0 20% 60 refresh-ims",
            "refresh_pattern . 0 20% 4320",
            "",
            "pid_filename \(pidFile)",
            "cache_log \(cacheLog)",
            "access_log stdio:\(accessLog) squid",
            "cache_store_log none",
            "coredump_dir \(cacheDirectory)",
            // Both default to files under /var, which the region's user cannot write.
            "netdb_filename none",
            // The ICMP helper needs root; the region does not run squid as root.
            "pinger_enable off",
            // The region stops squid with itself: do not wait 30 s for open transfers.
            "shutdown_lifetime 1 seconds",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
