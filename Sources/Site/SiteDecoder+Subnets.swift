import Wire
import Yams

extension SiteDecoder {
    static let subnetKeys = [
        "cidr", "gateway", "dns_servers", "next_server", "lease_seconds", "pools", "reserved", "unknown_clients",
        // Extensions.
        "domain", "mtu", "pxe_lease_seconds", "circuit_ids",
    ]

    /// Lease times: never zero, and below the top bit so no client reads one as "infinite"
    /// (0xFFFFFFFF, RFC 2131 §3.3) or overflows a signed timer.
    static let leaseRange: ClosedRange<UInt32> = 1...(1 << 31)

    /// One element of `subnets`; nil when it cannot be used (problems reported).
    mutating func subnet(_ node: Node, after earlier: [SiteSubnet]) -> SiteSubnet? {
        guard let fields = reader.fields(node, "subnet", allowed: Self.subnetKeys) else { return nil }
        let errorsBefore = reader.errors.count

        var parsed: SiteSubnet?
        if let (text, cidrNode) = reader.requiredText(fields, "cidr") {
            switch SiteSyntax.cidr(text) {
            case let .valid(network, prefix):
                parsed = SiteSubnet(network: network, prefixLength: prefix, line: node.position.line)
                if let other = earlier.first(where: { $0.contains(network) || parsed!.contains($0.network) }) {
                    reader.report(cidrNode.position, "subnet \(text) overlaps subnet \(other.cidr) (line \(other.line))")
                }
            case let .hostBitsSet(address, prefix, network):
                reader.report(
                    cidrNode.position,
                    "cidr \(address)/\(prefix) has host bits set; the network is \(network)/\(prefix)"
                )
            case let .malformed(reason):
                reader.report(cidrNode.position, "cidr '\(text)' is not valid: \(reason)")
            }
        }
        // Without a network nothing below can be judged; still read it all for its own problems.
        var subnet = parsed ?? SiteSubnet(network: .any, prefixLength: 0, line: node.position.line)

        if let gatewayNode = fields["gateway"], let gateway = reader.address(gatewayNode, "gateway") {
            subnet.gateway = gateway
            if parsed != nil {
                if !subnet.contains(gateway) {
                    reader.report(gatewayNode.position, "gateway \(gateway) is outside subnet \(subnet.cidr); a gateway must be on the subnet it serves")
                } else if subnet.isNetworkOrBroadcast(gateway) {
                    reader.report(gatewayNode.position, "gateway \(gateway) is the network or broadcast address of subnet \(subnet.cidr)")
                }
            }
        }
        subnet.dnsServers = reader.addressList(fields, "dns_servers")
        // next_server may sit on another subnet: the TFTP server need not be on the client's link.
        subnet.nextServer = reader.optionalAddress(fields, "next_server")
        if let lease = fields["lease_seconds"] {
            subnet.leaseSeconds = reader.unsigned(lease, "lease_seconds", in: Self.leaseRange) ?? subnet.leaseSeconds
        }
        if let lease = fields["pxe_lease_seconds"] {
            subnet.pxeLeaseSeconds = reader.unsigned(lease, "pxe_lease_seconds", in: Self.leaseRange)
        }

        let rangeExample = "[{start: 198.18.0.100, end: 198.18.0.250}]"
        for rangeNode in reader.list(fields["pools"], "pools", example: rangeExample) {
            guard let pool = range(rangeNode, "pool", in: parsed) else { continue }
            if let other = subnet.pools.first(where: { $0.overlaps(pool) }) {
                reader.report(rangeNode.position, "pool \(pool.text) overlaps pool \(other.text) (line \(other.line))")
                continue
            }
            if let parsed, parsed.isNetworkOrBroadcast(pool.start) || parsed.isNetworkOrBroadcast(pool.end) {
                reader.report(rangeNode.position, "pool \(pool.text) includes the network or broadcast address of subnet \(parsed.cidr)")
                continue
            }
            subnet.pools.append(pool)
        }
        // Reserved ranges may overlap pools (that is their point) and each other.
        for rangeNode in reader.list(fields["reserved"], "reserved", example: rangeExample) {
            if let range = range(rangeNode, "reserved range", in: parsed) { subnet.reserved.append(range) }
        }

        if let policy = fields["unknown_clients"] {
            subnet.unknownClients = reader.choice(policy, "unknown_clients") ?? .serve
        }
        if let domainNode = fields["domain"], let domain = reader.text(domainNode, "domain") {
            if SiteSyntax.isDomainName(domain) {
                subnet.domain = domain
            } else {
                reader.report(domainNode.position, "domain '\(domain)' is not a valid DNS name")
            }
        }
        if let mtu = fields["mtu"] {
            // RFC 2132 §5.1: the minimum legal value is 68.
            subnet.mtu = reader.unsigned(mtu, "mtu", in: 68...65535).map { UInt16($0) }
        }

        var circuitLines: [String: Int] = [:]
        let pinExample = "[{circuit_id: \"eth0/1\", ip: 198.18.0.30}]"
        for pinNode in reader.list(fields["circuit_ids"], "circuit_ids", example: pinExample) {
            guard let pin = circuitPin(pinNode, in: parsed == nil ? nil : subnet) else { continue }
            if let first = circuitLines[pin.circuitID] {
                reader.report(pinNode.position, "circuit_id '\(pin.circuitID)' is pinned twice in this subnet (first at line \(first))")
                continue
            }
            circuitLines[pin.circuitID] = pin.line
            subnet.circuitPins.append(pin)
        }

        return parsed != nil && reader.errors.count == errorsBefore ? subnet : nil
    }

    /// `{start: a, end: b}`, in order and inside `subnet` when that is known.
    private mutating func range(_ node: Node, _ what: String, in subnet: SiteSubnet?) -> SiteRange? {
        guard let fields = reader.fields(node, what, allowed: ["start", "end"]) else { return nil }
        let start = reader.requiredText(fields, "start").flatMap { reader.address($0.1, "start") }
        let end = reader.requiredText(fields, "end").flatMap { reader.address($0.1, "end") }
        guard let start, let end else { return nil }
        let range = SiteRange(start: start, end: end, line: node.position.line)
        if start > end {
            reader.report(node.position, "\(what) start \(start) is after its end \(end)")
            return nil
        }
        if let subnet, !subnet.contains(start) || !subnet.contains(end) {
            reader.report(node.position, "\(what) \(range.text) is outside subnet \(subnet.cidr)")
            return nil
        }
        return range
    }

    /// `{circuit_id: "eth0/1", ip: a}`. Pins are decoded before any machine, so a machine that
    /// repeats a pinned address is the one reported.
    private mutating func circuitPin(_ node: Node, in subnet: SiteSubnet?) -> SiteCircuitPin? {
        guard let fields = reader.fields(node, "circuit pin", allowed: ["circuit_id", "ip"]) else { return nil }
        var circuitID = reader.requiredText(fields, "circuit_id")?.0
        if let id = circuitID, let idNode = fields["circuit_id"], id.isEmpty || id.utf8.count > 255 {
            // Option 82 sub-options carry 1 to 255 bytes (RFC 3046 §2.0).
            reader.report(idNode.position, "circuit_id must be 1 to 255 bytes long")
            circuitID = nil
        }
        guard let (_, ipNode) = reader.requiredText(fields, "ip"), let ip = reader.address(ipNode, "ip"),
              let circuitID
        else { return nil }
        let pin = SiteCircuitPin(circuitID: circuitID, ip: ip, line: node.position.line)
        guard let subnet else { return pin }
        guard subnet.contains(ip) else {
            reader.report(ipNode.position, "circuit pin ip \(ip) is outside its subnet \(subnet.cidr)")
            return nil
        }
        let errorsBefore = reader.errors.count
        checkFixedAddress(ip, in: subnet, owner: "circuit pin", at: ipNode.position)
        guard reader.errors.count == errorsBefore,
              claim(ip, by: "circuit pin '\(circuitID)' (line \(pin.line))", at: ipNode.position)
        else { return nil }
        return pin
    }
}
