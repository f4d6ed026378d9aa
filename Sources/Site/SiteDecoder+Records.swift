import Wire
import Yams

extension SiteDecoder {
    static let recordKeys = ["name", "type", "value", "ttl"]

    /// RFC 2181 §8: a TTL is 0 to 2^31 - 1.
    static let ttlRange: ClosedRange<UInt32> = 0...((1 << 31) - 1)

    mutating func record(_ node: Node) -> SiteRecord? {
        guard let fields = reader.fields(node, "record", allowed: Self.recordKeys) else { return nil }
        let errorsBefore = reader.errors.count

        var name: String?
        if let (text, nameNode) = reader.requiredText(fields, "name") {
            if SiteSyntax.isRecordName(text) {
                name = text
            } else {
                reader.report(nameNode.position, "record name '\(text)' is not a valid DNS name relative to the domain ('@' is the domain itself)")
            }
        }
        var type: String?
        if let (text, typeNode) = reader.requiredText(fields, "type") {
            if SiteRecord.knownTypes.contains(text.uppercased()) {
                type = text.uppercased()
            } else {
                reader.report(typeNode.position, "record type must be one of " + SiteRecord.knownTypes.joined(separator: " | ") + ", not '\(text)'")
            }
        }
        var value: String?
        if let (text, valueNode) = reader.requiredText(fields, "value") {
            switch type {
            case "A" where IPv4Address(text) == nil:
                reader.report(valueNode.position, "an A record's value must be an IPv4 address, not '\(text)'")
            case "AAAA" where IPv6Address(text) == nil:
                reader.report(valueNode.position, "an AAAA record's value must be an IPv6 address, not '\(text)'")
            case _ where text.isEmpty:
                reader.report(valueNode.position, "record value must not be empty")
            default:
                value = text
            }
        }
        let ttl = fields["ttl"].flatMap { reader.unsigned($0, "ttl", in: Self.ttlRange) }

        guard let name, let type, let value, reader.errors.count == errorsBefore else { return nil }
        return SiteRecord(name: name, type: type, value: value, ttl: ttl, line: node.position.line)
    }
}
