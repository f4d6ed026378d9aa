import Wire
import Yams

/// Turns a composed site file into a `SiteConfiguration`, checking every rule of
/// `docs/site-file.md` on the way. Problems are collected, not thrown, so one run reports all of
/// them; an element with a problem is left out of the model, and rules that would only echo an
/// earlier problem are skipped.
struct SiteDecoder {
    var reader: SiteReader

    /// Who holds each fixed address so far (a circuit pin or a machine), to refuse a second holder.
    var addressHolders: [IPv4Address: String] = [:]

    /// Set when some subnet could not be read: a machine's address is then not called "outside
    /// every subnet", since the subnet meant may be the unreadable one.
    var subnetsIncomplete = false

    init(file: String) { reader = SiteReader(file: file) }

    static let topLevelKeys = ["domain", "upstream_dns", "files", "subnets", "boot", "machines", "records", "dhcp", "dns"]

    mutating func configuration(_ root: Node) -> SiteConfiguration? {
        guard let fields = reader.fields(root, "the top level", allowed: Self.topLevelKeys) else { return nil }

        var domain: String?
        if let (text, node) = reader.requiredText(fields, "domain") {
            if SiteSyntax.isDomainName(text) {
                domain = text
            } else {
                reader.report(node.position, "domain '\(text)' is not a valid DNS name (dot-separated labels of letters, digits and hyphens)")
            }
        }
        let upstreamDNS = reader.addressList(fields, "upstream_dns")

        var files = SiteConfiguration.defaultFiles
        if let node = fields["files"], let text = reader.text(node, "files") {
            if text.hasPrefix("/") {
                files = text
            } else {
                reader.report(node.position, "files must be an absolute path (it is the root TFTP and HTTP serve from), not '\(text)'")
            }
        }

        // Subnets first, whatever the order in the file: machines are judged against them.
        var subnets: [SiteSubnet] = []
        for node in reader.list(fields["subnets"], "subnets", example: "[{cidr: 198.18.0.0/24}]") {
            guard let subnet = subnet(node, after: subnets) else {
                subnetsIncomplete = true
                continue
            }
            subnets.append(subnet)
        }

        let boot = fields["boot"].flatMap { self.boot($0) } ?? SiteBoot()

        var machines: [SiteMachine] = []
        var seen = MachineIdentities()
        let example = "[{hostname: node01, mac: \"52:54:00:00:00:01\"}]"
        for node in reader.list(fields["machines"], "machines", example: example) {
            if let machine = machine(node, subnets: subnets, seen: &seen) { machines.append(machine) }
        }

        let records = reader.list(fields["records"], "records", example: "[{name: www, type: A, value: 198.18.0.10}]")
            .compactMap { record($0) }

        let dhcp = fields["dhcp"].flatMap { dhcpSettings($0) } ?? SiteDHCPSettings()
        let dns = fields["dns"].flatMap { dnsSettings($0) } ?? SiteDNSSettings()

        guard let domain, reader.errors.isEmpty else { return nil }
        let site = SiteConfiguration(
            domain: domain, upstreamDNS: upstreamDNS, files: files, subnets: subnets, boot: boot,
            machines: machines, records: records, dhcp: dhcp, dns: dns
        )
        // Record values and names are judged against the zones the whole file makes.
        for problem in SiteZones.problems(site) {
            reader.report(SitePosition(line: problem.line, column: 1), problem.message)
        }
        return reader.errors.isEmpty ? site : nil
    }

    /// Records `holder` as the one owner of a fixed address; false (and a report) if another has it.
    mutating func claim(_ address: IPv4Address, by holder: String, at position: SitePosition) -> Bool {
        if let owner = addressHolders[address] {
            reader.report(position, "ip \(address) is already given to \(owner)")
            return false
        }
        addressHolders[address] = holder
        return true
    }

    /// The rules for an address handed to one client (a machine's `ip`, a circuit pin's): a host
    /// address, not the gateway, and not where the pools could lease it to someone else.
    mutating func checkFixedAddress(_ address: IPv4Address, in subnet: SiteSubnet, owner: String, at position: SitePosition) {
        if subnet.isNetworkOrBroadcast(address) {
            let which = address == subnet.network ? "network" : "broadcast"
            reader.report(position, "\(owner) ip \(address) is the \(which) address of subnet \(subnet.cidr)")
        } else if address == subnet.gateway {
            reader.report(position, "\(owner) ip \(address) is the gateway of subnet \(subnet.cidr)")
        } else if let pool = subnet.pools.first(where: { $0.contains(address) }),
                  !subnet.reserved.contains(where: { $0.contains(address) }) {
            reader.report(
                position,
                "\(owner) ip \(address) is inside the dynamic pool \(pool.text) (line \(pool.line)) and not in a reserved range, "
                    + "so it could be leased to another client; move it out of the pool or cover it with a 'reserved' range"
            )
        }
    }
}
