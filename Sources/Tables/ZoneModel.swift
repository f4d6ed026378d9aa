import Wire

/// The zones as the builder resolves them: every owner name (lower case) and every empty
/// non-terminal is an id in `names`; its RRsets are a list in `sets`, their RDATA a list in
/// `items` over the `rdata` arena. Flat arrays indexed by id, no per-name allocation: at 100k
/// machines a dictionary of nodes keyed by byte arrays spent most of a compile hashing, retaining
/// and freeing.
struct ZoneModel {
    struct RRSet {
        var type: UInt16
        var ttl: UInt32
        var count: Int32
        var firstItem: Int32
        var lastItem: Int32
        /// The name's next RRset, -1 at the end.
        var next: Int32
    }

    struct Item {
        var start: UInt32
        var length: UInt32
        var next: Int32
    }

    enum Found {
        case node(Int32)
        case referral(Int32)
        case nxdomain(zone: Int32)
        case outside
    }

    var names: ZoneNameTable
    let rdata: ZoneArena
    var sets: [RRSet] = []
    var items: [Item] = []
    /// The apex of each zone, by zone index.
    var apexes: [Int32] = []
    // Per name id.
    var zone: [Int32] = []
    var firstSet: [Int32] = []
    var lastSet: [Int32] = []
    /// The delegation point a name is at or below, -1 for none.
    var referral: [Int32] = []
    /// The zone a name is the apex of, -1 for none.
    var apexOf: [Int32] = []
    /// Every name in a fixed order (its lower-case wire bytes, lexicographically), for
    /// deterministic output.
    var owners: [Int32] = []

    // MARK: Reading

    @inline(__always)
    func name(_ id: Int32) -> UnsafeRawBufferPointer { names.name(id) }

    @inline(__always)
    func bytes(of item: Int32) -> UnsafeRawBufferPointer {
        let entry = items[Int(item)]
        return rdata.bytes(Int(entry.start), Int(entry.length))
    }

    /// The name's RRset of `type`, or -1.
    func set(_ id: Int32, _ type: UInt16) -> Int32 {
        var index = firstSet[Int(id)]
        while index >= 0 {
            if sets[Int(index)].type == type { return index }
            index = sets[Int(index)].next
        }
        return -1
    }

    func setCount(_ id: Int32) -> Int {
        var count = 0
        var index = firstSet[Int(id)]
        while index >= 0 { count += 1; index = sets[Int(index)].next }
        return count
    }

    /// What a query for `name` (lower case) finds, exactly as `ZoneTable.resolve` does at run
    /// time.
    func find(_ name: UnsafeRawBufferPointer, wildcard: inout [UInt8]) -> Found {
        let exact = names.find(name)
        if exact >= 0 { return referral[Int(exact)] >= 0 ? .referral(referral[Int(exact)]) : .node(exact) }
        var suffix = ZoneModel.parent(of: name)
        while let current = suffix {
            let id = names.find(current)
            if id >= 0 {
                if referral[Int(id)] >= 0 { return .referral(referral[Int(id)]) }
                wildcard.removeAll(keepingCapacity: true)
                wildcard.append(1)
                wildcard.append(UInt8(ascii: "*"))
                wildcard.append(contentsOf: current)
                let wild = wildcard.withUnsafeBytes { names.find($0) }
                if wild >= 0 { return referral[Int(wild)] >= 0 ? .referral(referral[Int(wild)]) : .node(wild) }
                return .nxdomain(zone: zone[Int(id)])
            }
            suffix = ZoneModel.parent(of: current)
        }
        return .outside
    }

    /// The name without its first label (a view of the same bytes); nil for the root.
    @inline(__always)
    static func parent(of name: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard name.count > 0, name[0] != 0, Int(name[0]) + 1 < name.count else { return nil }
        return UnsafeRawBufferPointer(rebasing: name[(Int(name[0]) + 1)...])
    }

    /// Labels of 1–63 bytes ending in the root label exactly at the end, 255 bytes at most.
    static func isWellFormed(_ name: UnsafeRawBufferPointer) -> Bool {
        guard name.count <= 255 else { return false }
        var position = 0
        while position < name.count {
            let length = Int(name[position])
            if length == 0 { return position == name.count - 1 }
            guard length <= 63 else { return false }
            position += length + 1
        }
        return false
    }

    /// Whether `name` is `apex` or below it (label-aligned suffix).
    static func isSubdomain(_ name: UnsafeRawBufferPointer, of apex: UnsafeRawBufferPointer) -> Bool {
        guard name.count >= apex.count else { return false }
        var position = 0
        while position < name.count {
            if name.count - position == apex.count {
                return UnsafeRawBufferPointer(rebasing: name[position...]).sameBytes(as: apex)
            }
            let length = Int(name[position])
            if length == 0 { return false }
            position += length + 1
        }
        return false
    }

    static func text(_ name: UnsafeRawBufferPointer) -> String { ZoneNames.text(Array(name)) }

    // MARK: Building

    init(_ definitions: [ZoneDefinition]) throws(ZoneBuildError) {
        let recordCount = definitions.reduce(0) { $0 + $1.records.count }
        names = ZoneNameTable(expected: recordCount + definitions.count + 16)
        rdata = ZoneArena(capacity: recordCount * 8)
        sets.reserveCapacity(recordCount)
        items.reserveCapacity(recordCount)
        var scratch = [UInt8](repeating: 0, count: 256)

        for definition in definitions {
            // Well-formed (which lower-casing keeps: no length byte is a letter) before the
            // copy into `scratch` and the label walks, which read without further checks.
            guard definition.apex.withUnsafeBytes(Self.isWellFormed) else {
                throw ZoneBuildError("a zone's name is not a valid wire-form name")
            }
            let (id, added) = Self.lowercased(definition.apex, into: &scratch) { names.intern($0) }
            guard added else { throw ZoneBuildError("a zone is listed twice") }
            appendNode(zone: Int32(apexes.count))
            apexOf[Int(id)] = Int32(apexes.count)
            apexes.append(id)
        }

        // A new owner's zone is its parent's, and consecutive records mostly share a parent
        // (the hosts of one zone, the records of one domain): the last parent's zone is kept.
        var lastParent: [UInt8] = []
        var lastParentZone: Int32 = -1
        for (definitionIndex, definition) in definitions.enumerated() {
            let apex = apexes[definitionIndex]
            for record in definition.records {
                guard record.owner.withUnsafeBytes(Self.isWellFormed) else {
                    throw ZoneBuildError("a name in zone \(Self.text(name(apex))) is not a valid wire-form name")
                }
                let problem: ZoneBuildError? = Self.lowercased(record.owner, into: &scratch) { owner in
                    let (id, added) = names.intern(owner)
                    // The zone of a name seen before is known; a new one is no apex (they
                    // were all interned first), so its zone is its parent's.
                    var index: Int32 = -1
                    if !added {
                        index = zone[Int(id)]
                    } else if let parent = Self.parent(of: owner) {
                        if lastParent.withUnsafeBytes({ parent.sameBytes(as: $0) }) {
                            index = lastParentZone
                        } else {
                            index = zoneIndex(of: parent)
                            lastParent = Array(parent)
                            lastParentZone = index
                        }
                    }
                    guard Self.isSubdomain(owner, of: name(apex)), index >= 0 else {
                        // The build stops here, so the name interned without a node is never read.
                        return ZoneBuildError("\(Self.text(owner)) is outside zone \(Self.text(name(apex)))")
                    }
                    // A parent zone's NS for a child zone we also serve is not a delegation here.
                    if record.type == DNSType.ns.rawValue, index != Int32(definitionIndex), name(apexes[Int(index)]).sameBytes(as: owner) { return nil }
                    if added { appendNode(zone: index) }
                    add(record, to: id)
                    return nil
                }
                if let problem { throw problem }
            }
        }

        for apex in apexes {
            let soa = set(apex, DNSType.soa.rawValue)
            guard soa >= 0, sets[Int(soa)].count == 1 else {
                throw ZoneBuildError("zone \(Self.text(name(apex))) needs exactly one SOA record at its apex")
            }
            guard set(apex, DNSType.ns.rawValue) >= 0 else {
                throw ZoneBuildError("zone \(Self.text(name(apex))) needs an NS record at its apex")
            }
            // The SOA first: it is what ANY at the apex returns (RFC 8482 lets us pick one).
            moveToFront(soa, of: apex)
        }

        // CNAME and other data (RFC 1034 §3.6.2), then empty non-terminals and delegations.
        // Of several offending names the first in order is reported.
        var badCNAME: Int32 = -1
        var hasDelegation = false
        let recordOwners = names.count
        for id in 0..<Int32(recordOwners) {
            let cname = set(id, DNSType.cname.rawValue)
            if cname >= 0, setCount(id) != 1 || sets[Int(cname)].count != 1 {
                if badCNAME < 0 || Self.precedes(name(id), name(badCNAME)) { badCNAME = id }
            }
            let nodeZone = zone[Int(id)]
            let apexLength = names.name(apexes[Int(nodeZone)]).count
            if apexOf[Int(id)] != nodeZone, set(id, DNSType.ns.rawValue) >= 0 { hasDelegation = true }
            // Ancestors between the name and its apex: each a view of the name's own bytes,
            // copied out before interning (which may move the arena).
            var length = names.name(id).count
            var offset = 0
            while true {
                let labelLength = Int(names.name(id)[offset])
                offset += labelLength + 1
                length -= labelLength + 1
                guard labelLength != 0, length > apexLength else { break }
                let ancestorLength = length
                let ancestorOffset = offset
                scratch.withUnsafeMutableBytes { out in
                    out.copyMemory(from: UnsafeRawBufferPointer(rebasing: names.name(id)[ancestorOffset..<(ancestorOffset + ancestorLength)]))
                }
                let added = scratch.withUnsafeBytes { names.intern(UnsafeRawBufferPointer(rebasing: $0[0..<ancestorLength])).added }
                if added { appendNode(zone: nodeZone) }
            }
        }
        if badCNAME >= 0 {
            throw ZoneBuildError("\(Self.text(name(badCNAME))) has a CNAME and other data, or two CNAMEs")
        }
        owners = sortedNames()
        // Without a delegation below an apex no name is a referral: skip the walk.
        if hasDelegation {
            for id in owners {
                let apexLength = names.name(apexes[Int(zone[Int(id)])]).count
                // The top-most delegation at or above the name, below its apex.
                var delegation: Int32 = -1
                var current: UnsafeRawBufferPointer? = names.name(id)
                while let candidate = current, candidate.count > apexLength {
                    let found = names.find(candidate)
                    if found >= 0, set(found, DNSType.ns.rawValue) >= 0 { delegation = found }
                    current = Self.parent(of: candidate)
                }
                if delegation >= 0 { referral[Int(id)] = delegation }
            }
        }
    }

    private mutating func appendNode(zone: Int32) {
        self.zone.append(zone)
        firstSet.append(-1)
        lastSet.append(-1)
        referral.append(-1)
        apexOf.append(-1)
    }

    /// The zone of a name: the deepest apex above it, whichever definition listed it (the
    /// first apex met walking up), or -1.
    private func zoneIndex(of name: UnsafeRawBufferPointer) -> Int32 {
        var current: UnsafeRawBufferPointer? = name
        while let candidate = current {
            let id = names.find(candidate)
            if id >= 0, apexOf[Int(id)] >= 0 { return apexOf[Int(id)] }
            current = Self.parent(of: candidate)
        }
        return -1
    }

    private mutating func add(_ record: ZoneRecord, to id: Int32) {
        var index = firstSet[Int(id)]
        while index >= 0, sets[Int(index)].type != record.type { index = sets[Int(index)].next }
        if index >= 0 {
            // RFC 2181 §5.2: one TTL per RRset; §5: duplicates are one record.
            sets[Int(index)].ttl = min(sets[Int(index)].ttl, record.ttl)
            var item = sets[Int(index)].firstItem
            let duplicate = record.rdata.withUnsafeBytes { incoming in
                while item >= 0 {
                    if bytes(of: item).sameBytes(as: incoming) { return true }
                    item = items[Int(item)].next
                }
                return false
            }
            if duplicate { return }
            let newItem = appendItem(record.rdata)
            items[Int(sets[Int(index)].lastItem)].next = newItem
            sets[Int(index)].lastItem = newItem
            sets[Int(index)].count += 1
        } else {
            let newItem = appendItem(record.rdata)
            let newSet = Int32(sets.count)
            sets.append(RRSet(type: record.type, ttl: record.ttl, count: 1, firstItem: newItem, lastItem: newItem, next: -1))
            if lastSet[Int(id)] >= 0 { sets[Int(lastSet[Int(id)])].next = newSet } else { firstSet[Int(id)] = newSet }
            lastSet[Int(id)] = newSet
        }
    }

    private mutating func appendItem(_ bytes: [UInt8]) -> Int32 {
        let item = Int32(items.count)
        items.append(Item(start: UInt32(rdata.count), length: UInt32(bytes.count), next: -1))
        rdata.append(bytes)
        return item
    }

    private mutating func moveToFront(_ target: Int32, of id: Int32) {
        guard firstSet[Int(id)] != target else { return }
        var previous = firstSet[Int(id)]
        while sets[Int(previous)].next != target { previous = sets[Int(previous)].next }
        sets[Int(previous)].next = sets[Int(target)].next
        if lastSet[Int(id)] == target { lastSet[Int(id)] = previous }
        sets[Int(target)].next = firstSet[Int(id)]
        firstSet[Int(id)] = target
    }

    @inline(__always)
    static func precedes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        let common = min(a.count, b.count)
        var index = 0
        while index < common {
            if a[index] != b[index] { return a[index] < b[index] }
            index += 1
        }
        return a.count < b.count
    }

    /// Every id in `owners`' order: sorted by the first eight bytes as one number, then by
    /// the whole name where those tie.
    private func sortedNames() -> [Int32] {
        var keyed: [(key: UInt64, id: Int32)] = []
        keyed.reserveCapacity(names.count)
        for id in 0..<Int32(names.count) {
            let bytes = names.name(id)
            var key: UInt64 = 0
            for index in 0..<8 { key = key << 8 | UInt64(index < bytes.count ? bytes[index] : 0) }
            keyed.append((key, id))
        }
        let table = names
        keyed.sort { left, right in
            if left.key != right.key { return left.key < right.key }
            return Self.precedes(table.name(left.id), table.name(right.id))
        }
        return keyed.map(\.id)
    }

    /// Runs `body` on `name` folded to lower case (RFC 4343), in `scratch`.
    private static func lowercased<R>(_ name: [UInt8], into scratch: inout [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let count = name.count
        scratch.withUnsafeMutableBytes { out in
            for i in 0..<count { let b = name[i]; out[i] = b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
        }
        return scratch.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}
