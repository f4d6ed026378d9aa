import Wire

/// The small grammars inside site file values: CIDR, DNS labels and names, client identifiers.
enum SiteSyntax {
    enum CIDR {
        case valid(IPv4Address, Int)
        case hostBitsSet(IPv4Address, Int, network: IPv4Address)
        case malformed(String)
    }

    /// "198.18.0.0/24". Host bits set is told apart from a malformed value: the fix differs.
    static func cidr(_ text: String) -> CIDR {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .malformed("write it as network/prefix, like 198.18.0.0/24") }
        guard let address = IPv4Address(parts[0]) else {
            return .malformed("'\(parts[0])' is not an IPv4 address")
        }
        guard parts[1].utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let prefix = Int(parts[1]), (0...32).contains(prefix), parts[1].count <= 2
        else { return .malformed("the prefix length must be a number from 0 to 32, not '\(parts[1])'") }
        let network = IPv4Address(address.value & SiteSubnet.mask(prefix))
        return network == address ? .valid(address, prefix) : .hostBitsSet(address, prefix, network: network)
    }

    /// A DNS label as a host name: 1–63 letters, digits and hyphens, not starting or ending with a
    /// hyphen (RFC 952 as relaxed by RFC 1123 §2.1).
    static func isHostLabel(_ label: some StringProtocol) -> Bool {
        let bytes = Array(label.utf8)
        guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else {
            return false
        }
        return bytes.allSatisfy { isLetterOrDigit($0) || $0 == UInt8(ascii: "-") }
    }

    /// A domain of host labels, at most 253 characters, with an optional final dot.
    static func isDomainName(_ name: String) -> Bool {
        var name = Substring(name)
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        return name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isHostLabel)
    }

    /// A record owner relative to the domain: "@", or labels that may also hold "_" (SRV's
    /// `_sip._tcp`) and start with "*" (a wildcard). Deeper checks belong to the DNS compiler.
    static func isRecordName(_ name: String) -> Bool {
        if name == "@" { return true }
        var name = Substring(name)
        if name.hasSuffix(".") { name = name.dropLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if index == 0, label == "*" { continue }
            guard (1...63).contains(label.utf8.count),
                  label.utf8.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
            else { return false }
        }
        return true
    }

    /// "01:52:54:00:00:00:01" (or with "-"), each byte one or two hex digits as ISC tools print
    /// them; nil for anything else.
    static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for part in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == ":" || $0 == "-" }) {
            guard (1...2).contains(part.count), let byte = UInt8(part, radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    /// The allowed key nearest to a misspelt one, when it is near enough to be the likely intent.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let limit = word.count <= 4 ? 1 : 2
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(word.lowercased(), candidate)
            if distance <= limit, distance < best?.1 ?? .max { best = (candidate, distance) }
        }
        return best?.0
    }

    /// Levenshtein distance over characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
}
