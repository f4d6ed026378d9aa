import Tables
import Wire

/// A dynamic lease that carried a host name (option 12 or 81), for its A and PTR records.
public struct SiteLeaseName: Hashable, Sendable {
    public var hostname: String
    public var address: IPv4Address

    public init(hostname: String, address: IPv4Address) {
        self.hostname = hostname
        self.address = address
    }
}

/// The rack's zones from a site file: the forward zone of `domain` (and of any subnet domain
/// outside it), a reverse zone per subnet, SOA and NS at every apex, an A and a PTR for every
/// machine with an address and every named dynamic lease, and the `records`.
public enum SiteZones {
    public struct Problem: Hashable, Sendable {
        public var line: Int
        public var message: String
    }

    /// The SOA timers other than MINIMUM (which is `dns.negative_ttl`): refresh, retry, expire.
    static let soaTimers: [UInt32] = [3600, 600, 604_800]

    /// What is wrong with the file's records, with their lines (checked when the file is read).
    static func problems(_ site: SiteConfiguration) -> [Problem] {
        var assembly = Assembly(site: site, serial: 1)
        assembly.addRecords(site.records)
        return assembly.problems
    }

    /// The zone section for a valid site: `serial` is the SOA serial (it must rise with every
    /// change), `leases` the named dynamic leases.
    public static func builder(for site: SiteConfiguration, serial: UInt32, leases: [SiteLeaseName] = []) -> ZoneSectionBuilder {
        builder(for: site, hosts: Assembly(site: site, serial: serial), leases: leases)
    }

    /// The zone section from `hosts` — an assembly of the site's SOAs, NSes and machines, which
    /// `SitePreparationCache` may keep from an earlier pass — and the site's records and leases.
    static func builder(for site: SiteConfiguration, hosts: Assembly, leases: [SiteLeaseName]) -> ZoneSectionBuilder {
        var assembly = hosts
        assembly.addRecords(site.records)
        assembly.addLeases(leases)
        var builder = ZoneSectionBuilder()
        builder.zones = assembly.apexes.indices.map { ZoneDefinition(apex: assembly.apexes[$0], records: assembly.records[$0]) }
        builder.responsesPerSecond = site.dns.rateLimit
        let recursion = site.dns.allowRecursion
            ?? site.subnets.map { SitePrefix(network: $0.network, prefixLength: $0.prefixLength) }
            + [SitePrefix(network: IPv4Address(127, 0, 0, 0), prefixLength: 8)]
        builder.recursionAllowed = recursion.map { ZoneACLEntry(network: $0.network, prefixLength: UInt8($0.prefixLength)) }
        builder.transferAllowed = site.dns.allowTransfer.map { ZoneACLEntry(network: $0.network, prefixLength: UInt8($0.prefixLength)) }
        return builder
    }

    /// A host name as a DNS label: the first label of what the client sent, lower case, with
    /// anything but letters, digits and hyphens turned into hyphens; nil if nothing is left.
    public static func sanitizedHostLabel(_ raw: some Sequence<UInt8>) -> String? {
        var label: [UInt8] = []
        for byte in raw {
            if byte == UInt8(ascii: ".") || byte == 0 { break }
            let lower = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            let ok = (lower >= 0x61 && lower <= 0x7A) || (lower >= 0x30 && lower <= 0x39)
            label.append(ok ? lower : UInt8(ascii: "-"))
            if label.count == 63 { break }
        }
        while label.first == UInt8(ascii: "-") { label.removeFirst() }
        while label.last == UInt8(ascii: "-") { label.removeLast() }
        return label.isEmpty ? nil : String(decoding: label, as: UTF8.self)
    }

    // MARK: Reverse zones

    /// "d.c.b.a.in-addr.arpa" in wire form, written directly rather than parsed from text (a
    /// 100k-machine site makes 100k of them).
    static func reverseWire(_ address: IPv4Address) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(30)
        for shift in [0, 8, 16, 24] as [UInt32] {
            let octet = UInt8(truncatingIfNeeded: address.value >> shift)
            if octet >= 100 {
                out += [3, 0x30 + octet / 100, 0x30 + octet / 10 % 10, 0x30 + octet % 10]
            } else if octet >= 10 {
                out += [2, 0x30 + octet / 10, 0x30 + octet % 10]
            } else {
                out += [1, 0x30 + octet]
            }
        }
        out += inAddrArpa
        return out
    }

    static let inAddrArpa: [UInt8] = [7] + Array("in-addr".utf8) + [4] + Array("arpa".utf8) + [0]

    /// The reverse zones of a subnet: whole octets (a /22 is four /24 zones); a subnet smaller
    /// than a /24 gets an RFC 2317 zone "first-prefix.c.b.a.in-addr.arpa" inside its /24.
    static func reverseZones(_ subnet: SiteSubnet) -> [String] {
        let network = subnet.network.value
        let prefix = subnet.prefixLength
        if prefix > 24 {
            let parent = reverseZoneName(network, octets: 3)
            return [parent, "\(network & 0xFF)-\(prefix)." + parent]
        }
        let granularity = max(8, (prefix + 7) / 8 * 8)
        return (0..<(1 << (granularity - prefix))).map { i in
            reverseZoneName(network + UInt32(i) << (32 - granularity), octets: granularity / 8)
        }
    }

    static func reverseZoneName(_ network: UInt32, octets: Int) -> String {
        let bytes = [network >> 24, network >> 16 & 0xFF, network >> 8 & 0xFF]
        return bytes.prefix(octets).reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa"
    }

    // MARK: Assembly

    struct Assembly {
        let site: SiteConfiguration
        let serial: UInt32
        let origin: [UInt8]
        var apexes: [[UInt8]] = []
        /// The apexes by id: an apex's id is its place in `apexes` (and `records`).
        var apexIndex = ByteStringIndex()
        /// By apex, in `apexes`' order.
        var records: [[ZoneRecord]] = []
        var problems: [Problem] = []
        /// Every owner so far, and by its id the line of a CNAME there and of other data, to
        /// refuse both.
        var owners: ByteStringIndex
        var ownerLines: [OwnerLines] = []
        /// Reverse names that have their PTR.
        var ptrOwners: ByteStringIndex
        /// Each domain's wire form (lower case), for host names.
        var domainWires: [String: [UInt8]] = [:]

        /// Lines, -1 for none (four bytes each: the assembly is copied on every pass).
        struct OwnerLines {
            var cname: Int32 = -1
            var data: Int32 = -1
        }

        /// `expectedRecords`: how many records will be added besides the site's own (a cached
        /// assembly is made from the site without its records).
        init(site: SiteConfiguration, serial: UInt32, expectedRecords: Int = 0) {
            self.site = site
            self.serial = serial
            let expected = site.machines.count + site.records.count + expectedRecords + 16
            owners = ByteStringIndex(minimumCapacity: expected + site.machines.count)
            ownerLines.reserveCapacity(expected + site.machines.count)
            ptrOwners = ByteStringIndex(minimumCapacity: site.machines.count + 16)
            origin = ZoneNames.lowercased(ZoneNames.wire(site.domain) ?? [0])
            var apexTexts = [site.domain]
            for subnet in site.subnets {
                if let domain = subnet.domain { apexTexts.append(domain) }
            }
            for subnet in site.subnets { apexTexts += SiteZones.reverseZones(subnet) }
            for text in apexTexts {
                guard let wire = ZoneNames.wire(text).map(ZoneNames.lowercased), apexIndex.find(wire) < 0 else { continue }
                // A subnet domain inside another of our zones is names in that zone, not a zone.
                if text != site.domain, !text.hasSuffix(".in-addr.arpa"),
                   apexes.contains(where: { ZoneNames.isSubdomain(wire, of: $0) }) { continue }
                apexIndex.intern(wire)
                apexes.append(wire)
                records.append([])
            }
            for subnet in site.subnets {
                if let domain = subnet.domain { domainWires[domain] = ZoneNames.wire(domain).map(ZoneNames.lowercased) }
            }
            domainWires[site.domain] = ZoneNames.wire(site.domain).map(ZoneNames.lowercased)
            let nameserver = absolute(site.dns.nameserver)
            for apex in apexes {
                var soa = (nameserver ?? origin) + (ZoneNames.wire("hostmaster") ?? []).dropLast() + origin
                for value in [serial] + SiteZones.soaTimers + [site.dns.negativeTTL] { soa += Self.u32(value) }
                add(ZoneRecord(owner: apex, type: DNSType.soa.rawValue, ttl: site.dns.defaultTTL, rdata: soa), line: site.dns.line)
                add(ZoneRecord(owner: apex, type: DNSType.ns.rawValue, ttl: site.dns.defaultTTL, rdata: nameserver ?? origin),
                    line: site.dns.line)
            }
            if let address = site.dns.nameserverAddress, let nameserver, zone(of: nameserver) >= 0 {
                add(ZoneRecord(owner: nameserver, type: DNSType.a.rawValue, ttl: site.dns.defaultTTL, rdata: Self.u32(address.value)),
                    line: site.dns.line)
            }
            for machine in site.machines {
                guard let ip = machine.ip, let name = hostName(machine.hostname, at: ip) else { continue }
                addHost(name, ip, line: machine.line)
            }
        }

        static func u32(_ value: UInt32) -> [UInt8] {
            [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }

        /// A name as written in the site file: relative to `domain` unless it ends with a dot.
        func absolute(_ text: String) -> [UInt8]? {
            if text == "@" { return origin }
            if text.hasSuffix(".") { return ZoneNames.wire(text) }
            guard let relative = ZoneNames.wire(text) else { return nil }
            let joined = relative.dropLast() + origin
            return joined.count <= 255 ? Array(joined) : nil
        }

        /// The deepest of our zones holding `name` (lower case), the first apex met walking up:
        /// its index in `apexes`, or -1. The suffixes are slices of `name`, not copies.
        func zone(of name: [UInt8]) -> Int {
            name.withUnsafeBytes { name in
                var position = 0
                while position < name.count {
                    let index = apexIndex.find(UnsafeRawBufferPointer(rebasing: name[position...]))
                    if index >= 0 { return Int(index) }
                    let length = Int(name[position])
                    if length == 0 { break }
                    position += length + 1
                }
                return -1
            }
        }

        /// hostname.domain, the domain being the subnet's own if it has one.
        func hostName(_ hostname: String, at address: IPv4Address) -> [UInt8]? {
            let domain = site.subnets.first { $0.contains(address) }?.domain ?? site.domain
            // A plain one-label host name is its length and its bytes before the domain's wire
            // form; anything else (dots, escapes, odd domains) goes through the text parser.
            if domain != ".", let domainWire = domainWires[domain] {
                var plain = !hostname.isEmpty
                var label: [UInt8] = [0]
                label.reserveCapacity(hostname.utf8.count + domainWire.count + 1)
                for byte in hostname.utf8 {
                    let lower = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                    guard (lower >= 0x61 && lower <= 0x7A) || (lower >= 0x30 && lower <= 0x39) || lower == 0x2D || lower == 0x5F else {
                        plain = false
                        break
                    }
                    label.append(lower)
                }
                if plain, label.count <= 64, label.count + domainWire.count <= 255 {
                    label[0] = UInt8(label.count - 1)
                    return label + domainWire
                }
            }
            return ZoneNames.wire(hostname + "." + domain).map(ZoneNames.lowercased)
        }

        mutating func add(_ record: ZoneRecord, line: Int) {
            addLowercased(ZoneRecord(owner: ZoneNames.lowercased(record.owner), type: record.type, ttl: record.ttl, rdata: record.rdata),
                          line: line)
        }

        /// `add` for a record whose owner is in lower case already (hosts, PTRs).
        private mutating func addLowercased(_ record: ZoneRecord, line: Int) {
            let apex = zone(of: record.owner)
            guard apex >= 0 else { return }
            add(record, apex: apex, line: line)
        }

        /// A record whose owner is in lower case, in zone `apex` (the caller found both
        /// already: 100k records are not lower-cased and looked up twice).
        private mutating func add(_ record: ZoneRecord, apex: Int, line: Int) {
            let owner = record.owner
            // One hash lookup per record: the owner's id, which indexes its lines.
            let (id, added) = owners.intern(owner)
            if added { ownerLines.append(OwnerLines()) }
            var lines = ownerLines[Int(id)]
            if record.type == DNSType.cname.rawValue {
                let other = lines.data >= 0 ? lines.data : lines.cname
                if other >= 0 {
                    problems.append(Problem(line: line, message: "\(ZoneNames.text(owner)) already has data (line \(other)); a CNAME must be the only record at its name"))
                    return
                }
                lines.cname = Int32(clamping: line)
            } else {
                if lines.cname >= 0 {
                    problems.append(Problem(line: line, message: "\(ZoneNames.text(owner)) is a CNAME (line \(lines.cname)); a CNAME must be the only record at its name"))
                    return
                }
                if lines.data < 0 { lines.data = Int32(clamping: line) }
            }
            ownerLines[Int(id)] = lines
            records[apex].append(record)
        }

        /// Whether a name has records (of any kind) already.
        func hasRecords(_ owner: [UInt8]) -> Bool {
            let id = owners.find(owner)
            guard id >= 0 else { return false }
            return ownerLines[Int(id)].cname >= 0 || ownerLines[Int(id)].data >= 0
        }

        /// An A record for the host and a PTR for its address (with the RFC 2317 CNAME in the
        /// /24 zone when the subnet is smaller than that).
        mutating func addHost(_ name: [UInt8], _ address: IPv4Address, line: Int, ttl: UInt32? = nil) {
            let ttl = ttl ?? site.dns.defaultTTL
            // `name` comes from `hostName`, in lower case, as do the reverse names.
            addLowercased(ZoneRecord(owner: name, type: DNSType.a.rawValue, ttl: ttl, rdata: Self.u32(address.value)), line: line)
            let standard = SiteZones.reverseWire(address)
            guard ptrOwners.intern(standard).added else { return }
            if let subnet = site.subnets.first(where: { $0.contains(address) }), subnet.prefixLength > 24 {
                let child = "\(address.value & 0xFF).\(subnet.network.value & 0xFF)-\(subnet.prefixLength)."
                    + SiteZones.reverseZoneName(subnet.network.value, octets: 3)
                guard let childName = ZoneNames.wire(child) else { return }
                add(ZoneRecord(owner: childName, type: DNSType.ptr.rawValue, ttl: ttl, rdata: name), line: line)
                add(ZoneRecord(owner: standard, type: DNSType.cname.rawValue, ttl: ttl, rdata: childName), line: line)
            } else {
                addLowercased(ZoneRecord(owner: standard, type: DNSType.ptr.rawValue, ttl: ttl, rdata: name), line: line)
            }
        }

        mutating func addRecords(_ records: [SiteRecord]) {
            for record in records {
                guard let owner = absolute(record.name).map(ZoneNames.lowercased) else {
                    problems.append(Problem(line: record.line, message: "record name '\(record.name)' is not a valid DNS name"))
                    continue
                }
                let apex = zone(of: owner)
                guard apex >= 0 else {
                    problems.append(Problem(line: record.line, message: "record name \(ZoneNames.text(owner)) is outside every zone this rack serves (\(apexes.map(ZoneNames.text).joined(separator: ", ")))"))
                    continue
                }
                switch rdata(type: record.type, value: record.value) {
                case .success(let (type, data)):
                    add(ZoneRecord(owner: owner, type: type, ttl: record.ttl ?? site.dns.defaultTTL, rdata: data),
                        apex: apex, line: record.line)
                case .failure(let problem):
                    problems.append(Problem(line: record.line, message: problem.message))
                }
            }
        }

        /// Leases whose sanitised name is free: a machine or a record of that name wins.
        mutating func addLeases(_ leases: [SiteLeaseName]) {
            for lease in leases.sorted(by: { $0.address < $1.address }) {
                guard let label = SiteZones.sanitizedHostLabel(lease.hostname.utf8),
                      let name = hostName(label, at: lease.address),
                      !hasRecords(name)
                else { continue }
                addHost(name, lease.address, line: 0)
            }
        }

        /// RDATA in wire form from zone-file text.
        func rdata(type: String, value: String) -> Result<(UInt16, [UInt8]), ProblemText> {
            // Split only for the types with several fields: most records are A records.
            var splitFields: [String] { value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
            func name(_ text: String) -> Result<[UInt8], ProblemText> {
                absolute(text).map { .success($0) } ?? .failure(ProblemText("'\(text)' is not a valid DNS name"))
            }
            func number(_ text: String, _ what: String) -> Result<[UInt8], ProblemText> {
                guard let n = UInt16(text) else { return .failure(ProblemText("\(what) '\(text)' is not a number from 0 to 65535")) }
                return .success([UInt8(n >> 8), UInt8(n & 0xFF)])
            }
            switch type {
            case "A":
                guard let address = IPv4Address(value) else { return .failure(ProblemText("'\(value)' is not an IPv4 address")) }
                return .success((DNSType.a.rawValue, Self.u32(address.value)))
            case "AAAA":
                guard let address = IPv6Address(value) else { return .failure(ProblemText("'\(value)' is not an IPv6 address")) }
                return .success((DNSType.aaaa.rawValue, Self.u32(UInt32(address.high >> 32)) + Self.u32(UInt32(truncatingIfNeeded: address.high))
                    + Self.u32(UInt32(address.low >> 32)) + Self.u32(UInt32(truncatingIfNeeded: address.low))))
            case "CNAME", "NS", "PTR":
                let fields = splitFields
                guard fields.count == 1 else { return .failure(ProblemText("a \(type) value is one name, not '\(value)'")) }
                let code = type == "CNAME" ? DNSType.cname : type == "NS" ? DNSType.ns : DNSType.ptr
                return name(fields[0]).map { (code.rawValue, $0) }
            case "MX":
                let fields = splitFields
                guard fields.count == 2 else { return .failure(ProblemText("an MX value is 'preference exchange', like '10 mail', not '\(value)'")) }
                return number(fields[0], "MX preference").flatMap { p in name(fields[1]).map { (DNSType.mx.rawValue, p + $0) } }
            case "SRV":
                let fields = splitFields
                guard fields.count == 4 else { return .failure(ProblemText("an SRV value is 'priority weight port target', like '0 0 80 www', not '\(value)'")) }
                return number(fields[0], "SRV priority").flatMap { a in number(fields[1], "SRV weight").flatMap { b in
                    number(fields[2], "SRV port").flatMap { c in name(fields[3]).map { (DNSType.srv.rawValue, a + b + c + $0) } } } }
            case "TXT":
                return Self.txt(value).map { (DNSType.txt.rawValue, $0) }
            default:
                return .failure(ProblemText("record type \(type) is not supported"))
            }
        }

        /// TXT text: one or more "quoted strings" (with \" and \\ escapes), or bare text as one
        /// string; each becomes character-strings of at most 255 bytes.
        static func txt(_ value: String) -> Result<[UInt8], ProblemText> {
            var strings: [[UInt8]] = []
            let bytes = Array(value.utf8)
            if bytes.first == UInt8(ascii: "\"") {
                var i = 0
                while i < bytes.count {
                    if bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t") { i += 1; continue }
                    guard bytes[i] == UInt8(ascii: "\"") else { return .failure(ProblemText("TXT text outside quotes in '\(value)'")) }
                    i += 1
                    var current: [UInt8] = []
                    var closed = false
                    while i < bytes.count {
                        if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count { current.append(bytes[i + 1]); i += 2; continue }
                        if bytes[i] == UInt8(ascii: "\"") { closed = true; i += 1; break }
                        current.append(bytes[i])
                        i += 1
                    }
                    guard closed else { return .failure(ProblemText("unterminated quote in TXT value '\(value)'")) }
                    strings.append(current)
                }
            } else {
                strings = [bytes]
            }
            var out: [UInt8] = []
            for string in strings {
                var rest = string[...]
                repeat {
                    let chunk = rest.prefix(255)
                    out.append(UInt8(chunk.count))
                    out += chunk
                    rest = rest.dropFirst(chunk.count)
                } while !rest.isEmpty
            }
            guard out.count <= 4000 else { return .failure(ProblemText("TXT value is over 4000 bytes")) }
            return .success(out)
        }
    }

    struct ProblemText: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }
}
