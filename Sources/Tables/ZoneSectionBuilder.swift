import Wire

/// One resource record for the zone builder: owner in wire form (any case), RDATA in wire
/// form with any names uncompressed.
public struct ZoneRecord: Hashable, Sendable {
    public var owner: [UInt8]
    public var type: UInt16
    public var ttl: UInt32
    public var rdata: [UInt8]

    public init(owner: [UInt8], type: UInt16, ttl: UInt32, rdata: [UInt8]) {
        self.owner = owner
        self.type = type
        self.ttl = ttl
        self.rdata = rdata
    }
}

/// A zone: its apex (wire form) and every record in it, the apex's SOA and NS included.
public struct ZoneDefinition: Sendable {
    public var apex: [UInt8]
    public var records: [ZoneRecord]

    public init(apex: [UInt8], records: [ZoneRecord] = []) {
        self.apex = apex
        self.records = records
    }
}

/// An IPv4 prefix in an access list.
public struct ZoneACLEntry: Hashable, Sendable {
    public var network: IPv4Address
    public var prefixLength: UInt8

    public init(network: IPv4Address, prefixLength: UInt8) {
        self.network = network
        self.prefixLength = prefixLength
    }
}

public struct ZoneBuildError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Lays out the `zones` section (`ZoneFormat`): every answer the rack can give from its zones
/// is encoded here once, so that answering is a hash lookup and a copy.
///
/// The output depends only on the input, never on hashing seeds or dictionary order: the
/// snapshot is content-addressed.
public struct ZoneSectionBuilder {
    public var zones: [ZoneDefinition] = []
    /// Responses per second to one source /24 over UDP (0: no limit).
    public var responsesPerSecond: UInt32 = 0
    /// Who may ask for names outside our zones (forwarded to the upstream servers).
    public var recursionAllowed: [ZoneACLEntry] = []
    /// Who may transfer a zone (AXFR over TCP).
    public var transferAllowed: [ZoneACLEntry] = []

    public init() {}

    // MARK: The model

    struct RRSet {
        var type: UInt16
        var ttl: UInt32
        var rdatas: [[UInt8]]
    }

    struct Node {
        var zone: Int
        var rrsets: [RRSet] = []
        /// The delegation point this name is at or below, if any.
        var referral: [UInt8]?

        func rrset(_ type: UInt16) -> RRSet? { rrsets.first { $0.type == type } }
    }

    enum Found {
        case node([UInt8])
        case referral([UInt8])
        case nxdomain(zone: Int)
        case outside
    }

    struct Model {
        var apexes: [[UInt8]]
        var nodes = BytesDictionary<Node>()
        /// Every owner in `ZoneNames.order`, once the model is complete.
        var owners: [[UInt8]] = []

        /// What a query for `name` finds, exactly as `ZoneTable.resolve` does at run time.
        func find(_ name: [UInt8]) -> Found {
            if let node = nodes[name] {
                return node.referral.map { .referral($0) } ?? .node(name)
            }
            var suffix = ZoneNames.parent(of: name)
            while let current = suffix {
                if let node = nodes[current] {
                    if let referral = node.referral { return .referral(referral) }
                    let wildcard = [1, UInt8(ascii: "*")] + current
                    if let wild = nodes[wildcard] {
                        return wild.referral.map { .referral($0) } ?? .node(wildcard)
                    }
                    return .nxdomain(zone: node.zone)
                }
                suffix = ZoneNames.parent(of: current)
            }
            return .outside
        }
    }

    // MARK: Fingerprint and serial

    /// Feeds everything the section is built from into `hasher`, in order: equal input makes
    /// equal sections (the build is deterministic), so the region can tell whether a rack's
    /// zones changed without building them.
    public func fingerprint(into hasher: inout SHA256) {
        var input: [UInt8] = []
        input.reserveCapacity(zones.reduce(64) { $0 + $1.apex.count + $1.records.count * 32 })
        func put(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { input += $0 } }
        func put(_ bytes: [UInt8]) { put(UInt32(bytes.count)); input += bytes }
        put(responsesPerSecond)
        for list in [recursionAllowed, transferAllowed] {
            put(UInt32(list.count))
            for entry in list { put(entry.network.value); put(UInt32(entry.prefixLength)) }
        }
        put(UInt32(zones.count))
        for zone in zones {
            put(zone.apex)
            put(UInt32(zone.records.count))
            for record in zone.records {
                put(record.owner)
                put(UInt32(record.type))
                put(record.ttl)
                put(record.rdata)
            }
        }
        hasher.update(input)
    }

    /// Sets every zone's SOA serial (the first of the SOA's five numbers): the region
    /// fingerprints the zones with serial 0, then stamps the generation in before building.
    public mutating func setSerial(_ serial: UInt32) {
        for zone in zones.indices {
            for index in zones[zone].records.indices where zones[zone].records[index].type == DNSType.soa.rawValue {
                let count = zones[zone].records[index].rdata.count
                guard count >= 20 else { continue }
                for byte in 0..<4 {
                    zones[zone].records[index].rdata[count - 20 + byte] = UInt8(truncatingIfNeeded: serial >> (24 - 8 * UInt32(byte)))
                }
            }
        }
    }

    // MARK: Building

    public func build() throws(ZoneBuildError) -> [UInt8] {
        if zones.isEmpty && recursionAllowed.isEmpty && transferAllowed.isEmpty && responsesPerSecond == 0 { return [] }
        let model = try makeModel()
        var layout = Layout(model: model)
        return try layout.encode(self)
    }

    private static func add(_ record: ZoneRecord, to node: inout Node) {
        if let at = node.rrsets.firstIndex(where: { $0.type == record.type }) {
            // RFC 2181 §5.2: one TTL per RRset; §5: duplicates are one record.
            node.rrsets[at].ttl = min(node.rrsets[at].ttl, record.ttl)
            if !node.rrsets[at].rdatas.contains(record.rdata) { node.rrsets[at].rdatas.append(record.rdata) }
        } else {
            node.rrsets.append(RRSet(type: record.type, ttl: record.ttl, rdatas: [record.rdata]))
        }
    }

    private func makeModel() throws(ZoneBuildError) -> Model {
        let apexes = zones.map { ZoneNames.lowercased($0.apex) }
        guard Set(apexes).count == apexes.count else { throw ZoneBuildError("a zone is listed twice") }
        var model = Model(apexes: apexes)
        // The zone of a name is the deepest apex above it, whichever definition listed it: the
        // first apex met walking up from the name (one hash lookup per label, not per zone).
        var apexIndex = BytesDictionary<Int>()
        for (index, apex) in apexes.enumerated() where apexIndex[apex] == nil { apexIndex[apex] = index }
        func zoneIndex(of name: [UInt8]) -> Int? {
            var current: [UInt8]? = name
            while let candidate = current {
                if let index = apexIndex[candidate] { return index }
                current = ZoneNames.parent(of: candidate)
            }
            return nil
        }
        for (definitionIndex, zone) in zones.enumerated() {
            for record in zone.records {
                let owner = ZoneNames.lowercased(record.owner)
                guard ZoneNames.isSubdomain(owner, of: apexes[definitionIndex]), let index = zoneIndex(of: owner) else {
                    throw ZoneBuildError("\(ZoneNames.text(owner)) is outside zone \(ZoneNames.text(apexes[definitionIndex]))")
                }
                // A parent zone's NS for a child zone we also serve is not a delegation here.
                if record.type == DNSType.ns.rawValue, index != definitionIndex, owner == apexes[index] { continue }
                // In place: a copy of the node would copy its RRsets on every record added.
                Self.add(record, to: &model.nodes[owner, default: Node(zone: index)])
            }
        }
        for apex in apexes {
            guard let node = model.nodes[apex], let soa = node.rrset(DNSType.soa.rawValue), soa.rdatas.count == 1 else {
                throw ZoneBuildError("zone \(ZoneNames.text(apex)) needs exactly one SOA record at its apex")
            }
            guard node.rrset(DNSType.ns.rawValue) != nil else {
                throw ZoneBuildError("zone \(ZoneNames.text(apex)) needs an NS record at its apex")
            }
            // The SOA first: it is what ANY at the apex returns (RFC 8482 lets us pick one).
            var apexNode = node
            apexNode.rrsets.sort { ($0.type == DNSType.soa.rawValue ? 0 : 1) < ($1.type == DNSType.soa.rawValue ? 0 : 1) }
            model.nodes[apex] = apexNode
        }
        // CNAME and other data (RFC 1034 §3.6.2), then empty non-terminals and delegations.
        // In no particular order (the names are sorted once, below); of several offending
        // names the first in order is reported, so the message does not depend on hashing.
        var badCNAME: [UInt8]?
        var hasDelegation = false
        for owner in model.nodes.keys {
            let node = model.nodes[owner]!
            if node.rrset(DNSType.cname.rawValue) != nil, node.rrsets.count != 1 || node.rrsets[0].rdatas.count != 1 {
                if badCNAME.map({ ZoneNames.order(owner, $0) }) ?? true { badCNAME = owner }
            }
            if owner != apexes[node.zone], node.rrset(DNSType.ns.rawValue) != nil { hasDelegation = true }
            let apex = apexes[node.zone]
            var ancestor = ZoneNames.parent(of: owner)
            while let name = ancestor, name.count > apex.count, ZoneNames.isSubdomain(name, of: apex) {
                if model.nodes[name] == nil { model.nodes[name] = Node(zone: node.zone) }
                ancestor = ZoneNames.parent(of: name)
            }
        }
        if let badCNAME {
            throw ZoneBuildError("\(ZoneNames.text(badCNAME)) has a CNAME and other data, or two CNAMEs")
        }
        model.owners = ZoneNames.sorted(model.nodes.keys)
        // Without a delegation below an apex no name is a referral: skip the walk.
        for owner in model.owners where hasDelegation {
            let node = model.nodes[owner]!
            let apex = apexes[node.zone]
            // The top-most delegation at or above the name, below its apex.
            var delegation: [UInt8]?
            var name: [UInt8]? = owner
            while let current = name, current.count > apex.count {
                if let n = model.nodes[current], n.rrset(DNSType.ns.rawValue) != nil { delegation = current }
                name = ZoneNames.parent(of: current)
            }
            if let delegation { model.nodes[owner]!.referral = delegation }
        }
        return model
    }

    /// Encodes the model into the section.
    struct Layout {
        let model: Model
        var data: [UInt8] = []
        var answerOffsets = BytesDictionary<UInt32>()
        var nameOffsets = BytesDictionary<UInt32>()
        /// Where `data` will start in the section; answers are addressed from the section start.
        var dataBase: UInt32 = 0

        init(model: Model) { self.model = model }

        mutating func encode(_ builder: ZoneSectionBuilder) throws(ZoneBuildError) -> [UInt8] {
            let owners = model.owners
            // Each node looked up once: the loops below walk this in owner order.
            let ordered = owners.map { model.nodes[$0]! }
            let zoneCount = model.apexes.count
            // Every type some name has: the query types a CNAME's chain is pre-encoded for.
            var types = Set<UInt16>()
            for node in model.nodes.values { for set in node.rrsets { types.insert(set.type) } }
            let chainTypes = types.sorted()

            // The fixed parts' sizes are known before the data, so data offsets are final.
            // An empty answer stands for "the same as the name's first" (ANY), and a nil fallback
            // for the zone's NODATA: both stored once, not encoded and hashed again per name.
            var entries: [(name: [UInt8], flags: UInt16, zone: Int, answers: [(UInt16, [UInt8])], fallback: [UInt8]?)] = []
            entries.reserveCapacity(owners.count)
            for (owner, node) in zip(owners, ordered) {
                var answers: [(UInt16, [UInt8])] = []
                let fallback: [UInt8]?
                var flags: UInt16 = 0
                if let referral = node.referral {
                    flags |= ZoneFormat.referral
                    fallback = referralAnswer(referral)
                } else if node.rrsets.isEmpty {
                    flags |= ZoneFormat.emptyNonTerminal
                    fallback = nil
                } else if let cname = node.rrset(DNSType.cname.rawValue) {
                    let only = rrsetAnswer(cname)
                    answers.append((DNSType.cname.rawValue, only))
                    answers.append((DNSType.any.rawValue, []))
                    fallback = chainAnswer(from: owner, cname: cname, type: 0)
                    for type in chainTypes where type != DNSType.cname.rawValue {
                        let chain = chainAnswer(from: owner, cname: cname, type: type)
                        if chain != fallback { answers.append((type, chain)) }
                    }
                } else {
                    for set in node.rrsets { answers.append((set.type, rrsetAnswer(set))) }
                    answers.append((DNSType.any.rawValue, []))
                    fallback = nil
                }
                entries.append((owner, flags, node.zone, answers, fallback))
            }
            let answerCount = entries.reduce(0) { $0 + $1.answers.count }
            let capacity = TableHash.capacity(for: entries.count)
            let aclCount = builder.recursionAllowed.count + builder.transferAllowed.count
            guard builder.recursionAllowed.count <= 0xFFFF, builder.transferAllowed.count <= 0xFFFF else {
                throw ZoneBuildError("too many access-list entries")
            }
            let zonesOffset = ZoneFormat.headerSize
            let namesOffset = zonesOffset + zoneCount * ZoneFormat.zoneSize
            let answersOffset = namesOffset + entries.count * ZoneFormat.nameSize
            let hashOffset = answersOffset + answerCount * ZoneFormat.answerEntrySize
            let aclOffset = hashOffset + capacity * ZoneFormat.slotSize
            let dataOffset = aclOffset + aclCount * ZoneFormat.aclSize
            dataBase = UInt32(dataOffset)

            var out = [UInt8](repeating: 0, count: dataOffset)
            func put32(_ value: UInt32, _ at: Int) { withUnsafeBytes(of: value.littleEndian) { for i in 0..<4 { out[at + i] = $0[i] } } }
            func put16(_ value: UInt16, _ at: Int) { out[at] = UInt8(truncatingIfNeeded: value); out[at + 1] = UInt8(value >> 8) }

            // Each zone's names, grouped once (a transfer lists only its own zone's).
            var ownersByZone = [[Int]](repeating: [], count: zoneCount)
            for (position, node) in ordered.enumerated() { ownersByZone[node.zone].append(position) }
            // Zones.
            for (i, apex) in model.apexes.enumerated() {
                let at = zonesOffset + i * ZoneFormat.zoneSize
                let soa = model.nodes[apex]!.rrset(DNSType.soa.rawValue)!.rdatas[0]
                put32(nameOffset(apex), at)
                put32(UInt32(apex.count), at + 4)
                put32(ZoneNames.soaField(soa, 0), at + 8)
                put32(store(negativeAnswer(zone: i, rcode: 3)), at + 12)
                let transfer = transferRecords(zone: i, positions: ownersByZone[i], owners: owners, nodes: ordered)
                put32(storeRaw(transfer), at + 16)
                put32(UInt32(transfer.count), at + 20)
            }
            // Names and their answer entries.
            var answerIndex = 0
            var nodataOffsets = [UInt32?](repeating: nil, count: zoneCount)
            var slots = [UInt32](repeating: ZoneFormat.emptySlot, count: capacity * 2)
            for (i, entry) in entries.enumerated() {
                let at = namesOffset + i * ZoneFormat.nameSize
                put32(nameOffset(entry.name), at)
                put16(UInt16(entry.name.count), at + 4)
                put16(entry.flags, at + 6)
                put32(UInt32(entry.zone), at + 8)
                put32(UInt32(answerIndex), at + 12)
                put32(UInt32(entry.answers.count), at + 16)
                if let fallback = entry.fallback {
                    put32(store(fallback), at + 20)
                } else {
                    if nodataOffsets[entry.zone] == nil { nodataOffsets[entry.zone] = store(negativeAnswer(zone: entry.zone, rcode: 0)) }
                    put32(nodataOffsets[entry.zone]!, at + 20)
                }
                var firstOffset: UInt32 = 0
                for (position, (type, answer)) in entry.answers.enumerated() {
                    let entryAt = answersOffset + answerIndex * ZoneFormat.answerEntrySize
                    put16(type, entryAt)
                    let offset = answer.isEmpty ? firstOffset : store(answer)
                    if position == 0 { firstOffset = offset }
                    put32(offset, entryAt + 4)
                    answerIndex += 1
                }
                let hash = entry.name.withUnsafeBytes { ZoneFormat.hash($0) }
                var slot = Int(hash & UInt64(capacity - 1))
                while slots[slot * 2 + 1] != ZoneFormat.emptySlot { slot = (slot + 1) & (capacity - 1) }
                slots[slot * 2] = UInt32(truncatingIfNeeded: hash >> 32)
                slots[slot * 2 + 1] = UInt32(i)
            }
            for slot in 0..<capacity {
                put32(slots[slot * 2], hashOffset + slot * ZoneFormat.slotSize)
                put32(slots[slot * 2 + 1], hashOffset + slot * ZoneFormat.slotSize + 4)
            }
            for (i, entry) in (builder.recursionAllowed + builder.transferAllowed).enumerated() {
                let at = aclOffset + i * ZoneFormat.aclSize
                put32(entry.network.value, at)
                out[at + 4] = entry.prefixLength
            }
            // Header.
            for (i, byte) in ZoneFormat.magic.enumerated() { out[i] = byte }
            put32(UInt32(zoneCount), 8)
            put32(UInt32(entries.count), 12)
            put32(UInt32(capacity), 16)
            put32(UInt32(answerCount), 20)
            put32(UInt32(zonesOffset), 24)
            put32(UInt32(namesOffset), 28)
            put32(UInt32(hashOffset), 32)
            put32(UInt32(answersOffset), 36)
            put32(UInt32(aclOffset), 40)
            put16(UInt16(builder.recursionAllowed.count), 44)
            put16(UInt16(builder.transferAllowed.count), 46)
            put32(builder.responsesPerSecond, 48)
            put32(UInt32(dataOffset), 52)
            put32(UInt32(data.count), 56)
            guard out.count + data.count < Int(UInt32.max) else { throw ZoneBuildError("zone data over 4 GiB") }
            return out + data
        }

        /// Stores an answer once, returning its section offset.
        mutating func store(_ answer: [UInt8]) -> UInt32 {
            if let offset = answerOffsets[answer] { return offset }
            let offset = storeRaw(answer)
            answerOffsets[answer] = offset
            return offset
        }

        mutating func storeRaw(_ bytes: [UInt8]) -> UInt32 {
            let offset = dataBase + UInt32(data.count)
            data += bytes
            return offset
        }

        mutating func nameOffset(_ name: [UInt8]) -> UInt32 {
            if let offset = nameOffsets[name] { return offset }
            let offset = storeRaw(name)
            nameOffsets[name] = offset
            return offset
        }

        // MARK: Answers

        struct Answer {
            var rcode: UInt8 = 0
            var flags: UInt8 = ZoneFormat.authoritative
            /// Records in the answer, authority and additional sections.
            var counts: (Int, Int, Int) = (0, 0, 0)
            var records: [UInt8] = []

            mutating func add(_ section: Int, owner: [UInt8], type: UInt16, ttl: UInt32, rdata: [UInt8]) {
                switch section {
                case 0: counts.0 += 1
                case 1: counts.1 += 1
                default: counts.2 += 1
                }
                records.append(contentsOf: owner)
                records.append(UInt8(type >> 8)); records.append(UInt8(truncatingIfNeeded: type))
                records.append(0); records.append(1)
                records.append(UInt8(ttl >> 24)); records.append(UInt8(truncatingIfNeeded: ttl >> 16))
                records.append(UInt8(truncatingIfNeeded: ttl >> 8)); records.append(UInt8(truncatingIfNeeded: ttl))
                records.append(UInt8(truncatingIfNeeded: rdata.count >> 8)); records.append(UInt8(truncatingIfNeeded: rdata.count))
                records.append(contentsOf: rdata)
            }

            mutating func add(_ section: Int, owner: [UInt8], _ set: RRSet) {
                for rdata in set.rdatas { add(section, owner: owner, type: set.type, ttl: set.ttl, rdata: rdata) }
            }

            var encoded: [UInt8] {
                // Answers larger than a TCP message cannot be sent; the compiler keeps them far
                // below that, and the reader checks the length anyway.
                let length = min(records.count, 0xFFFF)
                var out: [UInt8] = []
                out.reserveCapacity(12 + length)
                out.append(rcode); out.append(flags)
                for count in [counts.0, counts.1, counts.2] {
                    out.append(UInt8(truncatingIfNeeded: count)); out.append(UInt8(truncatingIfNeeded: count >> 8))
                }
                out.append(UInt8(truncatingIfNeeded: length)); out.append(UInt8(length >> 8)); out.append(0); out.append(0)
                out.append(contentsOf: records.prefix(length))
                return out
            }
        }

        func rrsetAnswer(_ set: RRSet) -> [UInt8] {
            var answer = Answer()
            answer.add(0, owner: ZoneFormat.questionNamePointer, set)
            return answer.encoded
        }

        /// NXDOMAIN (rcode 3) or NODATA (0): the zone's SOA in the authority section, with the
        /// negative TTL of RFC 2308 §5 (the smaller of the SOA's TTL and its MINIMUM).
        func negativeAnswer(zone: Int, rcode: UInt8) -> [UInt8] {
            var answer = Answer()
            answer.rcode = rcode
            addSOA(zone: zone, to: &answer)
            return answer.encoded
        }

        func addSOA(zone: Int, to answer: inout Answer) {
            let apex = model.apexes[zone]
            let soa = model.nodes[apex]!.rrset(DNSType.soa.rawValue)!
            let ttl = min(soa.ttl, ZoneNames.soaField(soa.rdatas[0], 4))
            answer.add(1, owner: apex, type: DNSType.soa.rawValue, ttl: ttl, rdata: soa.rdatas[0])
        }

        /// A referral to a delegated child: its NS set, and glue for name servers below it.
        func referralAnswer(_ delegation: [UInt8]) -> [UInt8] {
            var answer = Answer()
            answer.flags = 0
            let ns = model.nodes[delegation]!.rrset(DNSType.ns.rawValue)!
            answer.add(1, owner: delegation, ns)
            for rdata in ns.rdatas {
                let target = ZoneNames.lowercased(rdata)
                guard ZoneNames.isSubdomain(target, of: delegation), let glue = model.nodes[target] else { continue }
                for type in [DNSType.a.rawValue, DNSType.aaaa.rawValue] {
                    if let set = glue.rrset(type) { answer.add(2, owner: target, set) }
                }
            }
            return answer.encoded
        }

        /// A CNAME and the chain it starts inside our zones (RFC 1034 §4.3.2, step 3a), for
        /// query type `type` (0: a type no name has). The rcode is that of the last name
        /// (RFC 6604 §2.1).
        func chainAnswer(from owner: [UInt8], cname: RRSet, type: UInt16) -> [UInt8] {
            var answer = Answer()
            answer.add(0, owner: ZoneFormat.questionNamePointer, cname)
            var target = ZoneNames.lowercased(cname.rdatas[0])
            var seen: Set<[UInt8]> = [owner]
            for _ in 0..<8 {
                guard !seen.contains(target) else { break }
                seen.insert(target)
                switch model.find(target) {
                case .outside, .referral:
                    return answer.encoded
                case .nxdomain(let zone):
                    answer.rcode = 3
                    addSOA(zone: zone, to: &answer)
                    return answer.encoded
                case .node(let key):
                    let node = model.nodes[key]!
                    if let next = node.rrset(DNSType.cname.rawValue) {
                        answer.add(0, owner: target, next)
                        target = ZoneNames.lowercased(next.rdatas[0])
                        continue
                    }
                    if let set = node.rrset(type) {
                        answer.add(0, owner: target, set)
                    } else {
                        addSOA(zone: node.zone, to: &answer)
                    }
                    return answer.encoded
                }
            }
            return answer.encoded
        }

        /// The zone's records for AXFR (RFC 5936): SOA, everything else, SOA; owners written out.
        /// `positions` are where the zone's own names are in `owners` (and their nodes in `nodes`).
        func transferRecords(zone: Int, positions: [Int], owners: [[UInt8]], nodes: [Node]) -> [UInt8] {
            let apex = model.apexes[zone]
            let soa = model.nodes[apex]!.rrset(DNSType.soa.rawValue)!
            var answer = Answer()
            answer.add(0, owner: apex, soa)
            for position in positions {
                let owner = owners[position]
                for set in nodes[position].rrsets where !(owner == apex && set.type == DNSType.soa.rawValue) {
                    answer.add(0, owner: owner, set)
                }
            }
            answer.add(0, owner: apex, soa)
            return answer.records
        }
    }
}
