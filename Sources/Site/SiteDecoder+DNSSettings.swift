import Wire
import Yams

extension SiteDecoder {
    static let dnsKeys = ["default_ttl", "negative_ttl", "nameserver", "nameserver_address", "allow_recursion",
                          "allow_transfer", "rate_limit"]

    mutating func dnsSettings(_ node: Node) -> SiteDNSSettings? {
        guard let fields = reader.fields(node, "dns", allowed: Self.dnsKeys) else { return nil }
        var settings = SiteDNSSettings(line: node.position.line)
        if let value = fields["default_ttl"] {
            settings.defaultTTL = reader.unsigned(value, "default_ttl", in: Self.ttlRange) ?? settings.defaultTTL
        }
        if let value = fields["negative_ttl"] {
            settings.negativeTTL = reader.unsigned(value, "negative_ttl", in: Self.ttlRange) ?? settings.negativeTTL
        }
        if let nameNode = fields["nameserver"], let text = reader.text(nameNode, "nameserver") {
            if SiteSyntax.isDomainName(text) {
                settings.nameserver = text
            } else {
                reader.report(nameNode.position, "nameserver '\(text)' is not a valid DNS name")
            }
        }
        settings.nameserverAddress = reader.optionalAddress(fields, "nameserver_address")
        if let value = fields["allow_recursion"] { settings.allowRecursion = prefixes(value, "allow_recursion") }
        if let value = fields["allow_transfer"] { settings.allowTransfer = prefixes(value, "allow_transfer") }
        if let value = fields["rate_limit"] {
            settings.rateLimit = reader.unsigned(value, "rate_limit", in: 0...10_000_000) ?? settings.rateLimit
        }
        return settings
    }

    /// A list of `address/prefix` (host bits allowed: 198.18.0.7/32 is one host).
    mutating func prefixes(_ node: Node, _ what: String) -> [SitePrefix] {
        var out: [SitePrefix] = []
        for item in reader.list(node, what, example: "[198.18.0.0/15, 127.0.0.1/32]") {
            guard let text = reader.text(item, what) else { continue }
            switch SiteSyntax.cidr(text) {
            case .valid(let network, let prefix), .hostBitsSet(_, let prefix, network: let network):
                out.append(SitePrefix(network: network, prefixLength: prefix))
            case .malformed(let reason):
                reader.report(item.position, "\(what) entry '\(text)' is not valid: \(reason)")
            }
        }
        return out
    }
}
