import Yams

extension SiteDecoder {
    static let dhcpKeys = ["decline_quarantine_seconds", "per_mac_rate_limit", "proxy", "authoritative"]

    mutating func dhcpSettings(_ node: Node) -> SiteDHCPSettings? {
        guard let fields = reader.fields(node, "dhcp", allowed: Self.dhcpKeys) else { return nil }
        var settings = SiteDHCPSettings(line: node.position.line)
        if let value = fields["decline_quarantine_seconds"] {
            settings.declineQuarantineSeconds = reader.unsigned(value, "decline_quarantine_seconds", in: 0...(1 << 31))
                ?? settings.declineQuarantineSeconds
        }
        if let value = fields["per_mac_rate_limit"] {
            settings.perMACRateLimit = reader.unsigned(value, "per_mac_rate_limit", in: 0...1_000_000) ?? settings.perMACRateLimit
        }
        if let value = fields["proxy"] { settings.proxy = reader.boolean(value, "proxy") ?? settings.proxy }
        if let value = fields["authoritative"] {
            settings.authoritative = reader.boolean(value, "authoritative") ?? settings.authoritative
        }
        return settings
    }
}
