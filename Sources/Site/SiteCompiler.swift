import Tables
import Wire

/// Turns a validated site file into a table snapshot: what `rackplane tables compile` writes
/// and what `rackplane rack --site` serves. The region's compiler fills the same builder from
/// PostgreSQL instead.
public enum SiteCompiler {
    public static func builder(for site: SiteConfiguration) -> TablesBuilder {
        var builder = TablesBuilder()
        builder.domain = site.domain
        builder.filesRoot = site.files
        builder.upstreamDNS = site.upstreamDNS
        builder.declineQuarantineSeconds = site.dhcp.declineQuarantineSeconds
        builder.perMACRequestsPerSecond = site.dhcp.perMACRateLimit
        builder.proxyDHCP = site.dhcp.proxy
        builder.authoritative = site.dhcp.authoritative

        var profile = TablesBuilder.BootProfile()
        profile.bios = site.boot.files[.bios] ?? ""
        profile.uefiX64 = site.boot.files[.uefiX64] ?? ""
        profile.uefiArm64 = site.boot.files[.uefiARM64] ?? ""
        profile.httpBootURL = site.boot.httpBootURL ?? ""
        profile.ipxeScript = site.boot.ipxeScript ?? ""
        profile.kernel = site.boot.kernel ?? ""
        profile.initrd = site.boot.initrd ?? ""
        profile.commandLine = site.boot.cmdline ?? ""
        builder.bootProfiles = [profile]
        builder.enlistBootArguments = site.boot.enlistArguments

        builder.subnets = site.subnets.map { subnet in
            var compiled = TablesBuilder.Subnet(network: subnet.network, prefixLength: UInt8(subnet.prefixLength))
            compiled.gateway = subnet.gateway
            compiled.nextServer = subnet.nextServer
            compiled.dnsServers = subnet.dnsServers
            compiled.domain = subnet.domain ?? site.domain
            compiled.leaseSeconds = subnet.leaseSeconds
            compiled.pxeLeaseSeconds = subnet.pxeLeaseSeconds ?? 0
            compiled.mtu = subnet.mtu ?? 0
            compiled.ignoreUnknownClients = subnet.unknownClients == .ignore
            compiled.pools = subnet.pools.map { $0.start...$0.end }
            compiled.reserved = subnet.reserved.map { $0.start...$0.end }
            compiled.circuitPins = subnet.circuitPins.map { (Array($0.circuitID.utf8), $0.ip) }
            return compiled
        }
        builder.reservations = site.machines.map { machine in
            var reservation = TablesBuilder.Reservation(mac: machine.mac, address: machine.ip)
            reservation.hostname = machine.hostname
            reservation.clientID = machine.clientID ?? []
            reservation.purpose = BootPurpose(name: machine.purpose.rawValue) ?? .local
            reservation.architecture = MachineArchitecture(name: machine.arch)
            reservation.bootArguments = machine.bootArguments
            return reservation
        }
        return builder
    }

    /// Compiles and validates: the bytes returned always open as a snapshot. `leases` are the
    /// named dynamic leases the zones publish; the generation is also the zones' SOA serial.
    public static func compile(_ site: SiteConfiguration, generation: UInt64, createdAt: UInt64,
                               leases: [SiteLeaseName] = []) throws(TablesError) -> [UInt8] {
        try compile(prepare(site, leases: leases), generation: generation, createdAt: createdAt)
    }

    /// A site's tables before generation and time are stamped in: what the region fingerprints
    /// to decide whether a rack needs a new generation, and then builds once.
    public struct PreparedTables {
        /// Every section but the zones, built (they do not depend on the generation).
        public let sections: TablesBuilder.BuiltSections
        /// The zones, with SOA serial 0 until `compile` stamps the generation in.
        public let zones: ZoneSectionBuilder

        /// SHA-256 over everything the snapshot is built from, but the generation and the time:
        /// equal fingerprints mean equal tables. The zones are hashed from their input, not built.
        public func fingerprint() -> [UInt8] {
            var hasher = SHA256()
            sections.fingerprint(into: &hasher)
            zones.fingerprint(into: &hasher)
            return hasher.finish()
        }
    }

    /// A large site's DHCP and boot sections are built on a second thread while its zones are
    /// assembled on this one: they share nothing but the (immutable) site. With 100,000
    /// machines and 100,000 records that is 0.1 of the 0.4 s; a small site is not worth a thread.
    ///
    /// With a `cache` (one per rack), what does not depend on the site's records — the DHCP and
    /// boot sections and the zones' SOAs, NSes and host records — is kept, and reused while
    /// everything but the records is equal: a change to records then assembles only the records.
    public static func prepare(_ site: SiteConfiguration, leases: [SiteLeaseName] = [],
                               reusing cache: SitePreparationCache? = nil) -> PreparedTables {
        // The sections do not depend on the records, and the hosts are assembled without them.
        var base = site
        base.records = []
        if let cache, let kept = cache.kept, kept.base == base {
            cache.reused += 1
            return PreparedTables(sections: kept.sections, zones: SiteZones.builder(for: site, hosts: kept.hosts, leases: leases))
        }
        let withoutRecords = base
        let sections = site.machines.count + site.records.count >= sideThreadMinimum
            ? SideThread { builder(for: withoutRecords).buildSections() } : nil
        let hosts = SiteZones.Assembly(site: base, serial: 0, expectedRecords: site.records.count)
        let zones = SiteZones.builder(for: site, hosts: hosts, leases: leases)
        let built = sections?.result() ?? builder(for: base).buildSections()
        cache?.kept = (base, built, hosts)
        return PreparedTables(sections: built, zones: zones)
    }

    /// Machines plus records from which `prepare` builds on two threads.
    static let sideThreadMinimum = 5_000

    public static func compile(_ prepared: PreparedTables, generation: UInt64, createdAt: UInt64) throws(TablesError) -> [UInt8] {
        try compile(prepared, generation: generation, createdAt: createdAt, validate: true)
    }

    /// `validate: false` leaves the check to the caller, who can run it beside other work
    /// (the region checks while PostgreSQL stores the snapshot); bytes must not be served or
    /// handed on unchecked.
    package static func compile(_ prepared: PreparedTables, generation: UInt64, createdAt: UInt64,
                                validate: Bool) throws(TablesError) -> [UInt8] {
        var zones = prepared.zones
        zones.setSerial(UInt32(truncatingIfNeeded: generation))
        let zoneSection: EncodedZoneSection
        do {
            zoneSection = try zones.encode()
        } catch {
            throw TablesError(.badSection, "zones: \(error)")
        }
        let bytes = prepared.sections.layout(zones: zoneSection, generation: generation, createdAt: createdAt)
        if validate { try TableSnapshot.validate(bytes) }
        return bytes
    }
}

/// What `SiteCompiler.prepare` built from one rack's site apart from its records and leases,
/// kept for the next prepare of that rack. Used by one thread at a time.
public final class SitePreparationCache {
    /// The site without its records, the sections built from it, and its zones' hosts.
    var kept: (base: SiteConfiguration, sections: TablesBuilder.BuiltSections, hosts: SiteZones.Assembly)?
    /// Prepares that reused `kept`.
    public internal(set) var reused = 0

    public init() {}
}
