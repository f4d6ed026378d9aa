import Wire

/// Everything a standalone rack serves, as read from its site file (`docs/site-file.md`).
///
/// Values here have passed every rule of `SiteFile`: addresses parse, ranges sit inside their
/// subnets, nothing is listed twice. Each element keeps the `line` it came from, so a later stage
/// (the table compiler) can still point at the site file when it refuses something.
public struct SiteConfiguration: Hashable, Sendable {
    /// The DNS domain machines are named under (`domain`).
    public var domain: String
    /// Forwarders for names outside the rack's own zones (`upstream_dns`).
    public var upstreamDNS: [IPv4Address]
    /// Root directory for TFTP and HTTP (`files`).
    public var files: String
    public var subnets: [SiteSubnet]
    public var boot: SiteBoot
    public var machines: [SiteMachine]
    public var records: [SiteRecord]
    /// Server-wide DHCP behaviour (`dhcp`, an extension).
    public var dhcp: SiteDHCPSettings
    /// The rack's DNS server (`dns`, an extension).
    public var dns: SiteDNSSettings

    /// The value of `files` when the site file leaves it out.
    public static let defaultFiles = "/srv/rackplane"

    public init(
        domain: String,
        upstreamDNS: [IPv4Address] = [],
        files: String = SiteConfiguration.defaultFiles,
        subnets: [SiteSubnet] = [],
        boot: SiteBoot = SiteBoot(),
        machines: [SiteMachine] = [],
        records: [SiteRecord] = [],
        dhcp: SiteDHCPSettings = SiteDHCPSettings(),
        dns: SiteDNSSettings = SiteDNSSettings()
    ) {
        self.domain = domain
        self.upstreamDNS = upstreamDNS
        self.files = files
        self.subnets = subnets
        self.boot = boot
        self.machines = machines
        self.records = records
        self.dhcp = dhcp
        self.dns = dns
    }
}

/// One subnet the rack hands out addresses on (an element of `subnets`).
public struct SiteSubnet: Hashable, Sendable {
    /// The network address of `cidr`; its host bits are zero.
    public var network: IPv4Address
    public var prefixLength: Int
    /// The router (option 3); inside the subnet.
    public var gateway: IPv4Address?
    /// Option 6.
    public var dnsServers: [IPv4Address]
    /// siaddr, the TFTP server; may be outside the subnet.
    public var nextServer: IPv4Address?
    public var leaseSeconds: UInt32
    /// Lease time for PXE firmware, which asks again once the OS boots (`pxe_lease_seconds`, an
    /// extension); nil means `leaseSeconds`.
    public var pxeLeaseSeconds: UInt32?
    /// Dynamic ranges.
    public var pools: [SiteRange]
    /// Ranges never handed out dynamically; reservations may live inside them.
    public var reserved: [SiteRange]
    public var unknownClients: SiteUnknownClientPolicy
    /// Option 15; nil means the top-level `domain`.
    public var domain: String?
    /// Option 26 (`mtu`, an extension).
    public var mtu: UInt16?
    /// Addresses pinned to a relay agent circuit id, option 82 sub-option 1 (`circuit_ids`, an
    /// extension).
    public var circuitPins: [SiteCircuitPin]
    public var line: Int

    public static let defaultLeaseSeconds: UInt32 = 600

    public init(
        network: IPv4Address,
        prefixLength: Int,
        gateway: IPv4Address? = nil,
        dnsServers: [IPv4Address] = [],
        nextServer: IPv4Address? = nil,
        leaseSeconds: UInt32 = SiteSubnet.defaultLeaseSeconds,
        pxeLeaseSeconds: UInt32? = nil,
        pools: [SiteRange] = [],
        reserved: [SiteRange] = [],
        unknownClients: SiteUnknownClientPolicy = .serve,
        domain: String? = nil,
        mtu: UInt16? = nil,
        circuitPins: [SiteCircuitPin] = [],
        line: Int = 0
    ) {
        self.network = network
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.dnsServers = dnsServers
        self.nextServer = nextServer
        self.leaseSeconds = leaseSeconds
        self.pxeLeaseSeconds = pxeLeaseSeconds
        self.pools = pools
        self.reserved = reserved
        self.unknownClients = unknownClients
        self.domain = domain
        self.mtu = mtu
        self.circuitPins = circuitPins
        self.line = line
    }

    /// The netmask as an address (255.255.255.0 for a /24).
    public var netmask: IPv4Address { IPv4Address(Self.mask(prefixLength)) }

    /// The all-ones host address.
    public var broadcast: IPv4Address { IPv4Address(network.value | ~Self.mask(prefixLength)) }

    public func contains(_ address: IPv4Address) -> Bool {
        address.value & Self.mask(prefixLength) == network.value
    }

    /// Whether `address` is the network or broadcast address, which no host may hold. A /31 or
    /// /32 has neither (RFC 3021).
    public func isNetworkOrBroadcast(_ address: IPv4Address) -> Bool {
        prefixLength <= 30 && (address == network || address == broadcast)
    }

    /// "198.18.0.0/24".
    public var cidr: String { "\(network)/\(prefixLength)" }

    static func mask(_ prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength)
    }
}

/// An inclusive address range, written `{start: a, end: b}`.
public struct SiteRange: Hashable, Sendable {
    public var start: IPv4Address
    public var end: IPv4Address
    public var line: Int

    public init(start: IPv4Address, end: IPv4Address, line: Int = 0) {
        self.start = start
        self.end = end
        self.line = line
    }

    public func contains(_ address: IPv4Address) -> Bool { start <= address && address <= end }

    public func overlaps(_ other: SiteRange) -> Bool { start <= other.end && other.start <= end }

    /// How many addresses the range holds.
    public var count: Int { Int(end.value) - Int(start.value) + 1 }

    /// "198.18.0.100-198.18.0.250".
    public var text: String { "\(start)-\(end)" }
}

/// What a subnet does for a client that has no reservation (`unknown_clients`).
public enum SiteUnknownClientPolicy: String, Hashable, Sendable, CaseIterable {
    /// Lease from the pools.
    case serve
    /// Stay silent; only machines listed in the file get answers.
    case ignore
}

/// An address given to whatever sits behind one relay circuit (an element of `circuit_ids`).
public struct SiteCircuitPin: Hashable, Sendable {
    /// Compared byte for byte with option 82 sub-option 1 as the relay sends it (the UTF-8 bytes
    /// of the text in the file).
    public var circuitID: String
    public var ip: IPv4Address
    public var line: Int

    public init(circuitID: String, ip: IPv4Address, line: Int = 0) {
        self.circuitID = circuitID
        self.ip = ip
        self.line = line
    }
}

/// The client firmware a boot file is for: the keys of `boot.files`, as told by option 93.
public enum SiteArchitecture: String, Hashable, Sendable, CaseIterable {
    case bios
    case uefiX64 = "uefi-x64"
    case uefiARM64 = "uefi-arm64"
}

/// What network-booting clients are told (`boot`). Every field is optional; a rack with no boot
/// section answers DHCP without boot options.
public struct SiteBoot: Hashable, Sendable {
    /// The TFTP boot file by firmware (option 67 / `file`).
    public var files: [SiteArchitecture: String]
    /// Given to UEFI HTTP boot clients (vendor class `HTTPClient`).
    public var httpBootURL: String?
    /// Given to iPXE (user class "iPXE" or option 175) as its filename.
    public var ipxeScript: String?
    /// Paths under `files` for the boot loader's configuration.
    public var kernel: String?
    public var initrd: String?
    public var cmdline: String?
    /// Extra kernel command-line words for machines the site does not know (they enlist). Not
    /// a site-file key: the region's compiler puts its enlistment URL here.
    public var enlistArguments = ""
    /// The line the `boot` mapping starts on (its first key); 0 when the file has none.
    public var line: Int

    public init(
        files: [SiteArchitecture: String] = [:],
        httpBootURL: String? = nil,
        ipxeScript: String? = nil,
        kernel: String? = nil,
        initrd: String? = nil,
        cmdline: String? = nil,
        line: Int = 0
    ) {
        self.files = files
        self.httpBootURL = httpBootURL
        self.ipxeScript = ipxeScript
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
        self.line = line
    }
}

/// What a listed machine's boot is for (`purpose`).
public enum SitePurpose: String, Hashable, Sendable, CaseIterable {
    /// Boot the commissioning image (inventory, tests); leaves disks alone.
    case commission
    /// Boot the installer; writes the machine's disks.
    case deploy
    /// Boot from the local disk. The default: a listed machine is never reinstalled by accident.
    case local
    /// Boot the rescue image.
    case rescue
}

/// A known machine: a DHCP reservation plus its boot purpose (an element of `machines`).
public struct SiteMachine: Hashable, Sendable {
    /// A single DNS label, unique across the file regardless of case.
    public var hostname: String
    public var mac: MACAddress
    /// The reserved address; nil means the machine leases from a pool like anyone else.
    public var ip: IPv4Address?
    /// The Debian architecture name of the OS it runs (amd64, arm64, …).
    public var arch: String
    public var purpose: SitePurpose
    /// Extra kernel command-line words for this machine's boot. Not a site-file key: the
    /// region's compiler puts a commissioning or deploying machine's report URL and per-boot
    /// token here.
    public var bootArguments = ""
    /// Option 61 to match as well as the MAC (`client_id`, an extension), as raw bytes.
    public var clientID: [UInt8]?
    public var line: Int

    public static let defaultArch = "amd64"
    public static let defaultPurpose = SitePurpose.local
    /// The architectures `arch` accepts.
    public static let knownArchitectures = ["amd64", "arm64", "i386", "armhf", "ppc64el", "s390x", "riscv64"]

    public init(
        hostname: String,
        mac: MACAddress,
        ip: IPv4Address? = nil,
        arch: String = SiteMachine.defaultArch,
        purpose: SitePurpose = SiteMachine.defaultPurpose,
        clientID: [UInt8]? = nil,
        line: Int = 0
    ) {
        self.hostname = hostname
        self.mac = mac
        self.ip = ip
        self.arch = arch
        self.purpose = purpose
        self.clientID = clientID
        self.line = line
    }
}

/// A DNS record served in the site's domain (an element of `records`).
public struct SiteRecord: Hashable, Sendable {
    /// Relative to `domain`; "@" is the domain itself.
    public var name: String
    /// Upper case: A, AAAA, CNAME, MX, TXT, SRV, PTR or NS.
    public var type: String
    /// The record data as written; A and AAAA values are checked to be addresses.
    public var value: String
    public var ttl: UInt32?
    public var line: Int

    /// The types `type` accepts.
    public static let knownTypes = ["A", "AAAA", "CNAME", "MX", "TXT", "SRV", "PTR", "NS"]

    public init(name: String, type: String, value: String, ttl: UInt32? = nil, line: Int = 0) {
        self.name = name
        self.type = type
        self.value = value
        self.ttl = ttl
        self.line = line
    }
}

/// Server-wide DHCP behaviour (`dhcp`, an extension).
public struct SiteDHCPSettings: Hashable, Sendable {
    /// How long an address a client DECLINEd stays out of the pools.
    public var declineQuarantineSeconds: UInt32
    /// Requests per second answered per client MAC; 0 turns the limit off.
    public var perMACRateLimit: UInt32
    /// proxyDHCP: boot options only, no addresses, for a rack beside another DHCP server.
    public var proxy: Bool
    /// NAK requests for addresses this server does not hold (RFC 2131 §4.3.2).
    public var authoritative: Bool
    /// The line the `dhcp` mapping starts on (its first key); 0 when the file has none.
    public var line: Int

    public init(
        declineQuarantineSeconds: UInt32 = 600,
        perMACRateLimit: UInt32 = 10,
        proxy: Bool = false,
        authoritative: Bool = true,
        line: Int = 0
    ) {
        self.declineQuarantineSeconds = declineQuarantineSeconds
        self.perMACRateLimit = perMACRateLimit
        self.proxy = proxy
        self.authoritative = authoritative
        self.line = line
    }
}

/// An IPv4 prefix in an access list (`dns.allow_recursion`, `dns.allow_transfer`).
public struct SitePrefix: Hashable, Sendable {
    public var network: IPv4Address
    public var prefixLength: Int

    public init(network: IPv4Address, prefixLength: Int) {
        self.network = network
        self.prefixLength = prefixLength
    }
}

/// The rack's DNS server (`dns`, an extension).
public struct SiteDNSSettings: Hashable, Sendable {
    /// TTL of machine, lease and record answers without their own.
    public var defaultTTL: UInt32 = 300
    /// The SOA MINIMUM: how long resolvers cache NXDOMAIN and NODATA (RFC 2308).
    public var negativeTTL: UInt32 = 60
    /// The name server named by every zone's SOA and NS, relative to `domain` unless it ends
    /// with a dot.
    public var nameserver = "ns"
    /// The address of `nameserver`, published as its A record when it is inside `domain`.
    public var nameserverAddress: IPv4Address?
    /// Clients whose queries for other names are forwarded to `upstream_dns`; nil means the
    /// subnets and loopback.
    public var allowRecursion: [SitePrefix]?
    /// Clients allowed to transfer zones (AXFR over TCP).
    public var allowTransfer: [SitePrefix] = []
    /// Responses per second to one source /24 over UDP; 0 turns the limit off.
    public var rateLimit: UInt32 = 1000
    public var line: Int = 0

    public init(line: Int = 0) { self.line = line }
}
