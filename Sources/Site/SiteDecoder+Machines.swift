import Wire
import Yams

/// What must be unique across `machines`, with the line that first used it.
struct MachineIdentities {
    var hostnames: [String: Int] = [:]
    var macs: [MACAddress: Int] = [:]
    var clientIDs: [[UInt8]: Int] = [:]
}

extension SiteDecoder {
    static let machineKeys = ["hostname", "mac", "ip", "arch", "purpose", /* extension */ "client_id"]

    /// Names other tools use for an architecture, mapped to the Debian name `arch` wants.
    static let architectureAliases = ["x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i686": "i386", "i586": "i386"]

    /// One element of `machines`; nil when it cannot be used (problems reported).
    mutating func machine(_ node: Node, subnets: [SiteSubnet], seen: inout MachineIdentities) -> SiteMachine? {
        guard let fields = reader.fields(node, "machine", allowed: Self.machineKeys) else { return nil }
        let errorsBefore = reader.errors.count
        let line = node.position.line

        var hostname: String?
        if let (text, hostNode) = reader.requiredText(fields, "hostname") {
            if !SiteSyntax.isHostLabel(text) {
                var message = "hostname '\(text)' is not a valid DNS label (1 to 63 letters, digits and hyphens, "
                    + "not starting or ending with a hyphen)"
                if text.contains("."), let first = text.split(separator: ".").first, SiteSyntax.isHostLabel(first) {
                    message += "; write it without the domain, like '\(first)'"
                }
                reader.report(hostNode.position, message)
            } else if let first = seen.hostnames[text.lowercased()] {
                reader.report(hostNode.position, "hostname '\(text)' is already used by the machine at line \(first) (host names ignore case)")
            } else {
                seen.hostnames[text.lowercased()] = line
                hostname = text
            }
        }

        var mac: MACAddress?
        if let (text, macNode) = reader.requiredText(fields, "mac") {
            if let parsed = MACAddress(text) {
                if parsed.octet(0) & 1 != 0 || parsed.value == 0 {
                    reader.report(macNode.position, "mac \(parsed) is a group (multicast or broadcast) or all-zero address; no client sends from it")
                } else if let first = seen.macs[parsed] {
                    reader.report(macNode.position, "mac \(parsed) is already used by the machine at line \(first)")
                } else {
                    seen.macs[parsed] = line
                    mac = parsed
                }
            } else {
                reader.report(macNode.position, "mac '\(text)' is not a MAC address (write six hex bytes like 52:54:00:00:00:01)")
            }
        }

        var ip: IPv4Address?
        if let ipNode = fields["ip"], let address = reader.address(ipNode, "ip") {
            ip = address
            let owner = "machine '\(hostname ?? "?")' (line \(line))"
            if let subnet = subnets.first(where: { $0.contains(address) }) {
                let before = reader.errors.count
                checkFixedAddress(address, in: subnet, owner: "machine", at: ipNode.position)
                if reader.errors.count == before { _ = claim(address, by: owner, at: ipNode.position) }
            } else if !subnetsIncomplete {
                let where_ = subnets.isEmpty ? "the file has no subnets" : "subnets: " + subnets.map(\.cidr).joined(separator: ", ")
                reader.report(ipNode.position, "machine ip \(address) is outside every subnet (\(where_))")
            }
        }

        var arch = SiteMachine.defaultArch
        if let archNode = fields["arch"], let text = reader.text(archNode, "arch") {
            if SiteMachine.knownArchitectures.contains(text) {
                arch = text
            } else {
                var message = "arch must be one of " + SiteMachine.knownArchitectures.joined(separator: " | ") + ", not '\(text)'"
                if let alias = Self.architectureAliases[text] { message += " (did you mean '\(alias)'?)" }
                reader.report(archNode.position, message)
            }
        }

        var purpose = SiteMachine.defaultPurpose
        if let purposeNode = fields["purpose"] {
            purpose = reader.choice(purposeNode, "purpose") ?? purpose
        }

        var clientID: [UInt8]?
        if let idNode = fields["client_id"], let text = reader.text(idNode, "client_id") {
            // RFC 2132 §9.14: the identifier is at least two bytes (a type and a value).
            if let bytes = SiteSyntax.hexBytes(text), (2...255).contains(bytes.count) {
                let key = bytes
                if let first = seen.clientIDs[key] {
                    reader.report(idNode.position, "client_id \(text) is already used by the machine at line \(first)")
                } else {
                    seen.clientIDs[key] = line
                    clientID = bytes
                }
            } else {
                reader.report(idNode.position, "client_id '\(text)' must be 2 to 255 hex bytes separated by colons, like \"01:52:54:00:00:00:01\"")
            }
        }

        guard let hostname, let mac, reader.errors.count == errorsBefore else { return nil }
        return SiteMachine(hostname: hostname, mac: mac, ip: ip, arch: arch, purpose: purpose, clientID: clientID, line: line)
    }
}
