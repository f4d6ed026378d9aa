import Site
import Wire

/// The parts of the model a rack's tables are made of, read in one snapshot of the database.
struct CompilerModel: Sendable {
    struct VLAN: Sendable {
        var id: Int64
        var dhcpOn: Bool
        var primaryRack: Int64?
        var secondaryRack: Int64?
        var relayVLAN: Int64?
        var mtu: Int
    }

    struct Subnet: Sendable {
        var id: Int64
        var vlan: Int64
        var network: IPv4Address
        var prefixLength: Int
        var gateway: IPv4Address?
        var dnsServers: [IPv4Address]
        var nextServer: IPv4Address?
        var leaseSeconds: UInt32
        var domain: String?
    }

    struct Range: Sendable {
        var subnet: Int64
        var dynamic: Bool
        var start: IPv4Address
        var end: IPv4Address
    }

    struct Interface: Sendable {
        var subnet: Int64
        var mac: MACAddress
        var ip: IPv4Address?
        var hostname: String
        var architecture: String
        var bootPurpose: String
        var machineID: Int64 = 0
        var systemID: String = ""
        /// The nonce of the machine's current boot token, while it commissions or deploys.
        var tokenNonce: String?
    }

    /// The kernel and initrd machines boot, at `name/architecture/file` under the rack's files root.
    struct BootImage: Sendable {
        var kernel: String
        var initrd: String
    }

    struct Record: Sendable {
        var domain: String
        var name: String
        var type: String
        var value: String
        var ttl: UInt32?
    }

    var defaultDomain: String
    var vlans: [VLAN]
    var subnets: [Subnet]
    var ranges: [Range]
    var interfaces: [Interface]
    /// DNS records of every domain.
    var records: [Record] = []
    /// Bound leases with a host name, as racks reported them: their names go into the zones.
    var leaseNames: [SiteLeaseName] = []
    /// The ephemeral environment (nil while no boot resource exists).
    var bootImage: BootImage?
    /// Which read of the interfaces these are (`CompilerModelCache`); nil: not kept.
    var interfacesVersion: Int?
}

/// A rack's machines as its site lists them, kept while they come from the same read of the
/// interfaces, the same subnets and the same region URL. Reusing the array also makes the
/// prepared site's comparison with the last one (`SitePreparationCache`) a pointer comparison.
final class RackMachinesCache {
    var key: (interfaces: Int, subnets: Set<Int64>, regionURL: String?)?
    var machines: [SiteMachine] = []
}

/// Region settings the compiler renders into boot configs (`docs/lifecycle.md`).
public struct CompilerBootSettings: Sendable {
    /// Derives each boot's token from its nonce; nil renders no tokens (the report URL neither).
    public var tokenKey: BootTokenKey?
    /// The region URL machines report to and enlist at (`http://198.18.0.1:5240`); nil: the URL
    /// each rack reached the region at when it enrolled.
    public var regionURL: String?
    /// The kernel command line of every network boot (`console=ttyS0`, say).
    public var kernelOptions: String = ""
    /// The boot resource (its name) machines boot to enlist, commission and deploy; nil: the
    /// first amd64 one.
    public var bootResource: String?

    public init(tokenKey: BootTokenKey? = nil, regionURL: String? = nil, kernelOptions: String = "", bootResource: String? = nil) {
        self.tokenKey = tokenKey
        self.regionURL = regionURL
        self.kernelOptions = kernelOptions
        self.bootResource = bootResource
    }
}

/// Model → `SiteConfiguration` for one rack, so that `SiteCompiler` makes the snapshot and the
/// region's tables have exactly the format of a standalone rack's.
enum RackSiteBuilder {
    /// Boot files by firmware when the model does not say otherwise (MAAS's names).
    static let defaultBootFiles: [SiteArchitecture: String] = [
        .bios: "lpxelinux.0", .uefiX64: "bootx64.efi", .uefiARM64: "bootaa64.efi",
    ]

    static func site(forRack rack: Int64, model: CompilerModel, boot: CompilerBootSettings = CompilerBootSettings(),
                     rackRegionURL: String? = nil, machinesCache: RackMachinesCache? = nil) -> SiteConfiguration {
        let regionURL = Self.regionURL(boot.regionURL ?? rackRegionURL)
        // A rack serves DHCP on VLANs it is primary or secondary for, and on the VLANs relayed to them.
        let served = Set(model.vlans.filter { $0.dhcpOn && ($0.primaryRack == rack || $0.secondaryRack == rack) }.map(\.id))
        let relayed = Set(model.vlans.filter { $0.relayVLAN.map(served.contains) ?? false }.map(\.id))
        let vlans = served.union(relayed)
        let mtuByVLAN = Dictionary(model.vlans.map { ($0.id, $0.mtu) }, uniquingKeysWith: { first, _ in first })

        let subnets = model.subnets.filter { vlans.contains($0.vlan) }.sorted { $0.network < $1.network }
        let subnetIDs = Set(subnets.map(\.id))
        let siteSubnets = subnets.map { subnet in
            let ranges = model.ranges.filter { $0.subnet == subnet.id }.sorted { $0.start < $1.start }
            let mtu = mtuByVLAN[subnet.vlan].flatMap { $0 == 1500 ? nil : UInt16(exactly: $0) }
            return SiteSubnet(
                network: subnet.network, prefixLength: subnet.prefixLength, gateway: subnet.gateway,
                dnsServers: subnet.dnsServers, nextServer: subnet.nextServer, leaseSeconds: subnet.leaseSeconds,
                pools: ranges.filter(\.dynamic).map { SiteRange(start: $0.start, end: $0.end) },
                reserved: ranges.filter { !$0.dynamic }.map { SiteRange(start: $0.start, end: $0.end) },
                domain: subnet.domain, mtu: mtu)
        }
        if let machinesCache, let version = model.interfacesVersion, let key = machinesCache.key,
           key.interfaces == version, key.subnets == subnetIDs, key.regionURL == regionURL {
            return site(model: model, boot: boot, regionURL: regionURL, subnets: siteSubnets, machines: machinesCache.machines)
        }
        let machines = model.interfaces.filter { subnetIDs.contains($0.subnet) }.sorted { $0.mac < $1.mac }.map { interface in
            var machine = SiteMachine(
                hostname: interface.hostname, mac: interface.mac, ip: interface.ip, arch: interface.architecture,
                purpose: SitePurpose(rawValue: interface.bootPurpose) ?? .local)
            if let nonce = interface.tokenNonce, let key = boot.tokenKey, let regionURL {
                machine.bootArguments = Self.reportArguments(
                    regionURL: regionURL, machineID: interface.machineID, systemID: interface.systemID,
                    token: key.token(machine: String(interface.machineID), nonce: nonce))
            }
            return machine
        }
        if let machinesCache, let version = model.interfacesVersion {
            machinesCache.key = (version, subnetIDs, regionURL)
            machinesCache.machines = machines
        }
        return site(model: model, boot: boot, regionURL: regionURL, subnets: siteSubnets, machines: machines)
    }

    private static func site(model: CompilerModel, boot: CompilerBootSettings, regionURL: String?,
                             subnets siteSubnets: [SiteSubnet], machines: [SiteMachine]) -> SiteConfiguration {
        var siteBoot = SiteBoot(files: defaultBootFiles, kernel: model.bootImage?.kernel, initrd: model.bootImage?.initrd,
                                cmdline: boot.kernelOptions.isEmpty ? nil : boot.kernelOptions)
        if let regionURL { siteBoot.enlistArguments = "rackplane.enlist=\(regionURL)/api/v1/enlist" }
        // Records of the default domain are written relative to it; others absolutely, and the
        // zone compiler keeps those that fall inside a zone this rack serves.
        let records = model.records.map { record in
            SiteRecord(name: record.domain == model.defaultDomain ? record.name
                           : (record.name == "@" ? record.domain + "." : record.name + "." + record.domain + "."),
                       type: record.type, value: record.value, ttl: record.ttl)
        }
        return SiteConfiguration(
            domain: model.defaultDomain, subnets: siteSubnets, boot: siteBoot, machines: machines,
            records: records)
    }

    /// The words a reporting boot's kernel command line carries (docs/lifecycle.md).
    static func reportArguments(regionURL: String, machineID: Int64, systemID: String, token: String) -> String {
        "rackplane.report=\(regionURL)/api/v1/machines/\(machineID)/report rackplane.token=\(token) rackplane.system_id=\(systemID)"
    }

    /// `http://host:port` without a trailing slash; nil for anything that would not survive a
    /// kernel command line (blanks, control characters) or is not http(s).
    static func regionURL(_ text: String?) -> String? {
        guard var url = text?.trimmingWhitespace, url.hasPrefix("http://") || url.hasPrefix("https://") else { return nil }
        while url.hasSuffix("/") { url.removeLast() }
        guard url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), url.utf8.count <= 200 else { return nil }
        return url
    }

    /// The named leases inside the rack's subnets.
    static func leaseNames(forRack rack: Int64, site: SiteConfiguration, model: CompilerModel) -> [SiteLeaseName] {
        model.leaseNames.filter { lease in site.subnets.contains { $0.contains(lease.address) } }
    }
}
