import Wire

/// Encodes a `ZoneModel` into the `zones` section (`ZoneFormat`). Answers are encoded into one
/// scratch arena and stored once in the data arena (equal answers share an offset); the tables
/// are written last, when their sizes — and so the data's start — are known. Data offsets are
/// kept relative to the data until then.
struct ZoneSectionLayout {
    let model: ZoneModel
    /// Names, answers and transfer records, in the order they are stored.
    let data: ZoneArena
    /// Where an answer is built before it is stored.
    let scratch = ZoneArena(capacity: 4096)
    private var answerCounts: (Int, Int, Int) = (0, 0, 0)
    /// Stored answers by hash (open addressing): their place in `data`.
    private var stored: [(hash: UInt64, start: UInt32, length: UInt32)]
    private var storedCount = 0
    /// Where each name's bytes are in `data`, UInt32.max until stored.
    private var nameOffsets: [UInt32]
    /// A lower-case copy of a name from RDATA (a CNAME's or NS's target), and the wildcard
    /// `find` builds.
    private var target: [UInt8] = []
    private var wildcard: [UInt8] = []

    init(model: ZoneModel) {
        self.model = model
        data = ZoneArena(capacity: model.names.count * 64 + 4096)
        stored = Array(repeating: (0, 0, UInt32.max), count: TableHash.capacity(for: model.names.count + 64))
        nameOffsets = [UInt32](repeating: UInt32.max, count: model.names.count)
    }

    mutating func encode(_ builder: ZoneSectionBuilder) throws(ZoneBuildError) -> EncodedZoneSection {
        let owners = model.owners
        let zoneCount = model.apexes.count
        // Every type some name has: the query types a CNAME's chain is pre-encoded for.
        var types = Set<UInt16>()
        for set in model.sets { types.insert(set.type) }
        let chainTypes = types.sorted()
        guard builder.recursionAllowed.count <= 0xFFFF, builder.transferAllowed.count <= 0xFFFF else {
            throw ZoneBuildError("too many access-list entries")
        }
        // The transfer copies (a third of the data at 100k machines) depend on the model alone:
        // for a large model they are encoded on a second thread while this one encodes the
        // answers, and stored after them. Both threads only read the model.
        let transfers = owners.count >= Self.sideThreadMinimum
            ? SideThread { [shared = SharedModel(model: model)] in SharedModel.Transfers(arena: Self.encodeTransfers(shared.model)) }
            : nil

        // Zones: apex, NXDOMAIN answer (data offsets relative); transfer records come last.
        var zoneRows: [(apex: UInt32, apexLength: UInt32, serial: UInt32, nxdomain: UInt32, transfer: UInt32, transferLength: UInt32)] = []
        zoneRows.reserveCapacity(zoneCount)
        for (index, apex) in model.apexes.enumerated() {
            let soa = model.sets[Int(model.set(apex, DNSType.soa.rawValue))]
            let apexAt = nameOffset(apex)
            let serial = Self.soaField(model.bytes(of: soa.firstItem), 0)
            let nxdomain = storeNegative(zone: Int32(index), rcode: 3)
            zoneRows.append((apexAt, UInt32(model.name(apex).count), serial, nxdomain, 0, 0))
        }

        // Names and their answers, in owner order.
        var nameRows: [(name: UInt32, length: UInt16, flags: UInt16, zone: UInt32, first: UInt32, count: UInt32, fallback: UInt32)] = []
        nameRows.reserveCapacity(owners.count)
        var answerRows: [(type: UInt16, offset: UInt32)] = []
        answerRows.reserveCapacity(owners.count * 2)
        var nodataOffsets = [UInt32](repeating: UInt32.max, count: zoneCount)
        for id in owners {
            let nameAt = nameOffset(id)
            let nodeZone = model.zone[Int(id)]
            let first = UInt32(answerRows.count)
            var flags: UInt16 = 0
            let fallback: UInt32
            let referral = model.referral[Int(id)]
            let cname = model.set(id, DNSType.cname.rawValue)
            if referral >= 0 {
                flags |= ZoneFormat.referral
                encodeReferral(referral)
                fallback = storeScratch()
            } else if model.firstSet[Int(id)] < 0 {
                flags |= ZoneFormat.emptyNonTerminal
                fallback = nodata(zone: nodeZone, &nodataOffsets)
            } else if cname >= 0 {
                // The chain for a type no name has is the fallback; another type's chain is
                // stored only where it differs from that.
                encodeChain(from: id, cname: cname, type: 0)
                let fallbackBytes = Array(scratch.bytes(0, scratch.count))
                var chains: [(UInt16, [UInt8])] = []
                for type in chainTypes where type != DNSType.cname.rawValue {
                    encodeChain(from: id, cname: cname, type: type)
                    let same = fallbackBytes.withUnsafeBytes { scratch.bytes(0, scratch.count).sameBytes(as: $0) }
                    if !same {
                        chains.append((type, Array(scratch.bytes(0, scratch.count))))
                    }
                }
                fallback = store(fallbackBytes)
                encodeRRSet(cname)
                let only = storeScratch()
                // First, so it is also what ANY gets.
                answerRows.append((DNSType.cname.rawValue, only))
                for (type, chain) in chains { answerRows.append((type, store(chain))) }
            } else {
                fallback = nodata(zone: nodeZone, &nodataOffsets)
                // ANY gets the first of these (RFC 8482: one RRset), with no entry of its own.
                var index = model.firstSet[Int(id)]
                while index >= 0 {
                    encodeRRSet(index)
                    answerRows.append((model.sets[Int(index)].type, storeScratch()))
                    index = model.sets[Int(index)].next
                }
            }
            nameRows.append((nameAt, UInt16(model.name(id).count), flags, UInt32(nodeZone), first,
                             UInt32(answerRows.count) - first, fallback))
        }

        // Transfer records after every name and answer: only AXFR reads them, so queries never
        // touch their pages (nor, where the kernel maps the file in 2 MiB pieces, the pieces
        // around them).
        // Written after the data by `write`, not appended to it: no copy into the data arena.
        let (transferArena, transferRanges) = transfers?.result().arena ?? Self.encodeTransfers(model)
        let transfersAt = UInt32(data.count)
        for index in 0..<zoneCount {
            zoneRows[index].transfer = transfersAt + transferRanges[index].start
            zoneRows[index].transferLength = transferRanges[index].length
        }

        // The fixed parts, then the data.
        let capacity = ZoneFormat.hashCapacity(for: nameRows.count)
        let aclCount = builder.recursionAllowed.count + builder.transferAllowed.count
        let zonesOffset = ZoneFormat.headerSize
        let namesOffset = zonesOffset + zoneCount * ZoneFormat.zoneSize
        let answersOffset = namesOffset + nameRows.count * ZoneFormat.nameSize
        let hashOffset = answersOffset + answerRows.count * ZoneFormat.answerEntrySize
        let aclOffset = hashOffset + capacity * ZoneFormat.slotSize
        let dataOffset = aclOffset + aclCount * ZoneFormat.aclSize
        let dataLength = data.count + transferArena.count
        let total = dataOffset + dataLength
        guard total < Int(UInt32.max) else { throw ZoneBuildError("zone data over 4 GiB") }
        let base = UInt32(dataOffset)
        let acl = builder.recursionAllowed + builder.transferAllowed
        let recursionCount = builder.recursionAllowed.count, transferCount = builder.transferAllowed.count
        let responsesPerSecond = builder.responsesPerSecond

        return EncodedZoneSection(size: total) { [model, data] out in
            precondition(out.count == total, "zone section written into \(out.count) bytes, not \(total)")
            // Everything but the data, which is copied over whole below.
            UnsafeMutableRawBufferPointer(rebasing: out[..<dataOffset]).initializeMemory(as: UInt8.self, repeating: 0)
            @inline(__always) func put32(_ value: UInt32, _ at: Int) { out.storeBytes(of: value.littleEndian, toByteOffset: at, as: UInt32.self) }
            @inline(__always) func put16(_ value: UInt16, _ at: Int) { out.storeBytes(of: value.littleEndian, toByteOffset: at, as: UInt16.self) }

            for (index, row) in zoneRows.enumerated() {
                let at = zonesOffset + index * ZoneFormat.zoneSize
                put32(base + row.apex, at)
                put32(row.apexLength, at + 4)
                put32(row.serial, at + 8)
                put32(base + row.nxdomain, at + 12)
                put32(base + row.transfer, at + 16)
                put32(row.transferLength, at + 20)
            }
            var slots = [UInt32](repeating: ZoneFormat.emptySlot, count: capacity * 2)
            for (index, row) in nameRows.enumerated() {
                let at = namesOffset + index * ZoneFormat.nameSize
                put32(base + row.name, at)
                put16(row.length, at + 4)
                put16(row.flags, at + 6)
                put32(row.zone, at + 8)
                put32(row.first, at + 12)
                put32(row.count, at + 16)
                put32(base + row.fallback, at + 20)
                let hash = ZoneFormat.hash(model.name(owners[index]))
                var slot = Int(hash & UInt64(capacity - 1))
                while slots[slot * 2 + 1] != ZoneFormat.emptySlot { slot = (slot + 1) & (capacity - 1) }
                slots[slot * 2] = UInt32(truncatingIfNeeded: hash >> 32)
                slots[slot * 2 + 1] = UInt32(index)
            }
            for (index, row) in answerRows.enumerated() {
                let at = answersOffset + index * ZoneFormat.answerEntrySize
                put16(row.type, at)
                put32(base + row.offset, at + 4)
            }
            for slot in 0..<capacity {
                put32(slots[slot * 2], hashOffset + slot * ZoneFormat.slotSize)
                put32(slots[slot * 2 + 1], hashOffset + slot * ZoneFormat.slotSize + 4)
            }
            for (index, entry) in acl.enumerated() {
                let at = aclOffset + index * ZoneFormat.aclSize
                put32(entry.network.value, at)
                out[at + 4] = entry.prefixLength
            }
            for (index, byte) in ZoneFormat.magic.enumerated() { out[index] = byte }
            put32(UInt32(zoneCount), 8)
            put32(UInt32(nameRows.count), 12)
            put32(UInt32(capacity), 16)
            put32(UInt32(answerRows.count), 20)
            put32(UInt32(zonesOffset), 24)
            put32(UInt32(namesOffset), 28)
            put32(UInt32(hashOffset), 32)
            put32(UInt32(answersOffset), 36)
            put32(UInt32(aclOffset), 40)
            put16(UInt16(recursionCount), 44)
            put16(UInt16(transferCount), 46)
            put32(responsesPerSecond, 48)
            put32(UInt32(dataOffset), 52)
            put32(UInt32(dataLength), 56)
            if data.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: out[dataOffset...]).copyMemory(from: data.bytes(0, data.count))
            }
            if transferArena.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: out[(dataOffset + data.count)...])
                    .copyMemory(from: transferArena.bytes(0, transferArena.count))
            }
        }
    }

    // MARK: Storing

    /// The name's place in `data`, stored there the first time.
    private mutating func nameOffset(_ id: Int32) -> UInt32 {
        if nameOffsets[Int(id)] != UInt32.max { return nameOffsets[Int(id)] }
        let offset = UInt32(data.count)
        data.append(model.name(id))
        nameOffsets[Int(id)] = offset
        return offset
    }

    private mutating func storeScratch() -> UInt32 { store(scratch.bytes(0, scratch.count)) }

    private mutating func store(_ answer: [UInt8]) -> UInt32 { answer.withUnsafeBytes { store($0) } }

    /// Stores an answer once, returning its place in `data`.
    private mutating func store(_ answer: UnsafeRawBufferPointer) -> UInt32 {
        let hash = TableHash.words(answer)
        var mask = stored.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while stored[slot].length != UInt32.max {
            let entry = stored[slot]
            if entry.hash == hash, data.bytes(Int(entry.start), Int(entry.length)).sameBytes(as: answer) { return entry.start }
            slot = (slot + 1) & mask
        }
        let start = UInt32(data.count)
        data.append(answer)
        storedCount += 1
        if storedCount * 2 > stored.count {
            let old = stored
            stored = Array(repeating: (0, 0, UInt32.max), count: old.count * 2)
            mask = stored.count - 1
            for entry in old where entry.length != UInt32.max { place(entry, mask) }
            place((hash, start, UInt32(answer.count)), mask)
        } else {
            stored[slot] = (hash, start, UInt32(answer.count))
        }
        return start
    }

    private mutating func place(_ entry: (hash: UInt64, start: UInt32, length: UInt32), _ mask: Int) {
        var slot = Int(truncatingIfNeeded: entry.hash) & mask
        while stored[slot].length != UInt32.max { slot = (slot + 1) & mask }
        stored[slot] = entry
    }

    private mutating func nodata(zone: Int32, _ offsets: inout [UInt32]) -> UInt32 {
        if offsets[Int(zone)] == UInt32.max { offsets[Int(zone)] = storeNegative(zone: zone, rcode: 0) }
        return offsets[Int(zone)]
    }

    private mutating func storeNegative(zone: Int32, rcode: UInt8) -> UInt32 {
        begin(rcode: rcode, flags: ZoneFormat.authoritative)
        addSOA(zone: zone)
        finish()
        return storeScratch()
    }

    // MARK: Answers
    //
    // An answer (ZoneFormat): rcode, flags, three section counts (LE), the records' length
    // (LE), two reserved bytes, then the records as they follow the question in a response.

    private mutating func begin(rcode: UInt8, flags: UInt8) {
        scratch.truncate(to: 0)
        scratch.appendZeros(ZoneFormat.answerHeaderSize)
        scratch[0] = rcode
        scratch[1] = flags
        answerCounts = (0, 0, 0)
    }

    private mutating func finish() {
        // Answers larger than a TCP message cannot be sent; the compiler keeps them far below
        // that, and the reader checks the length anyway.
        let length = min(scratch.count - ZoneFormat.answerHeaderSize, 0xFFFF)
        for (index, count) in [answerCounts.0, answerCounts.1, answerCounts.2].enumerated() {
            scratch[2 + index * 2] = UInt8(truncatingIfNeeded: count)
            scratch[3 + index * 2] = UInt8(truncatingIfNeeded: count >> 8)
        }
        scratch[8] = UInt8(truncatingIfNeeded: length)
        scratch[9] = UInt8(length >> 8)
        scratch.truncate(to: ZoneFormat.answerHeaderSize + length)
    }

    /// One record into `arena`: owner, type, class IN, TTL, RDATA.
    private static func appendRecord(to arena: ZoneArena, owner: UnsafeRawBufferPointer, type: UInt16, ttl: UInt32, rdata: UnsafeRawBufferPointer) {
        arena.append(owner)
        arena.appendBigEndian(type)
        arena.appendBigEndian(UInt16(1))
        arena.appendBigEndian(ttl)
        arena.appendBigEndian(UInt16(truncatingIfNeeded: rdata.count))
        arena.append(rdata)
    }

    /// Every record of an RRset into `arena`.
    private func appendSet(to arena: ZoneArena, owner: UnsafeRawBufferPointer, _ set: Int32) -> Int {
        Self.appendSet(model, to: arena, owner: owner, set)
    }

    private static func appendSet(_ model: ZoneModel, to arena: ZoneArena, owner: UnsafeRawBufferPointer, _ set: Int32) -> Int {
        let entry = model.sets[Int(set)]
        var item = entry.firstItem
        var count = 0
        while item >= 0 {
            Self.appendRecord(to: arena, owner: owner, type: entry.type, ttl: entry.ttl, rdata: model.bytes(of: item))
            count += 1
            item = model.items[Int(item)].next
        }
        return count
    }

    private mutating func add(_ section: Int, owner: UnsafeRawBufferPointer, set: Int32) {
        let count = appendSet(to: scratch, owner: owner, set)
        switch section {
        case 0: answerCounts.0 += count
        case 1: answerCounts.1 += count
        default: answerCounts.2 += count
        }
    }

    private mutating func add(_ section: Int, owner: [UInt8], set: Int32) {
        owner.withUnsafeBytes { add(section, owner: $0, set: set) }
    }

    private static let questionName: [UInt8] = ZoneFormat.questionNamePointer

    private mutating func encodeRRSet(_ set: Int32) {
        begin(rcode: 0, flags: ZoneFormat.authoritative)
        add(0, owner: Self.questionName, set: set)
        finish()
    }

    /// The zone's SOA in the authority section, with the negative TTL of RFC 2308 §5 (the
    /// smaller of the SOA's TTL and its MINIMUM).
    private mutating func addSOA(zone: Int32) {
        let apex = model.apexes[Int(zone)]
        let soa = model.sets[Int(model.set(apex, DNSType.soa.rawValue))]
        let rdata = model.bytes(of: soa.firstItem)
        let ttl = min(soa.ttl, Self.soaField(rdata, 4))
        Self.appendRecord(to: scratch, owner: model.name(apex), type: DNSType.soa.rawValue, ttl: ttl, rdata: rdata)
        answerCounts.1 += 1
    }

    /// A referral to a delegated child: its NS set, and glue for name servers below it.
    private mutating func encodeReferral(_ delegation: Int32) {
        begin(rcode: 0, flags: 0)
        let ns = model.set(delegation, DNSType.ns.rawValue)
        add(1, owner: model.name(delegation), set: ns)
        var item = model.sets[Int(ns)].firstItem
        while item >= 0 {
            setTarget(model.bytes(of: item))
            let glue = target.withUnsafeBytes { target in
                ZoneModel.isSubdomain(target, of: model.name(delegation)) ? model.names.find(target) : -1
            }
            if glue >= 0 {
                for type in [DNSType.a.rawValue, DNSType.aaaa.rawValue] {
                    let set = model.set(glue, type)
                    if set >= 0 { add(2, owner: target, set: set) }
                }
            }
            item = model.items[Int(item)].next
        }
        finish()
    }

    private mutating func setTarget(_ name: UnsafeRawBufferPointer) {
        target.removeAll(keepingCapacity: true)
        for byte in name { target.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) }
    }

    /// A CNAME and the chain it starts inside our zones (RFC 1034 §4.3.2, step 3a), for query
    /// type `type` (0: a type no name has). The rcode is that of the last name (RFC 6604 §2.1).
    private mutating func encodeChain(from owner: Int32, cname: Int32, type: UInt16) {
        begin(rcode: 0, flags: ZoneFormat.authoritative)
        add(0, owner: Self.questionName, set: cname)
        setTarget(model.bytes(of: model.sets[Int(cname)].firstItem))
        var seen: [[UInt8]] = [Array(model.name(owner))]
        for _ in 0..<8 {
            guard !seen.contains(target) else { break }
            seen.append(target)
            let found = target.withUnsafeBytes { model.find($0, wildcard: &wildcard) }
            switch found {
            case .outside, .referral:
                finish()
                return
            case .nxdomain(let zone):
                scratch[0] = 3
                addSOA(zone: zone)
                finish()
                return
            case .node(let key):
                let next = model.set(key, DNSType.cname.rawValue)
                if next >= 0 {
                    add(0, owner: target, set: next)
                    setTarget(model.bytes(of: model.sets[Int(next)].firstItem))
                    continue
                }
                let set = model.set(key, type)
                if set >= 0 {
                    add(0, owner: target, set: set)
                } else {
                    addSOA(zone: model.zone[Int(key)])
                }
                finish()
                return
            }
        }
        finish()
    }

    /// Names from which the transfer copies are encoded on a second thread.
    static let sideThreadMinimum = 5_000

    /// Every zone's records for AXFR (RFC 5936): SOA, everything else, SOA; owners written out.
    /// Into an arena of their own, zone after zone, with each zone's place in it: a transfer is
    /// never shared.
    static func encodeTransfers(_ model: ZoneModel) -> (ZoneArena, [(start: UInt32, length: UInt32)]) {
        let zoneCount = model.apexes.count
        var ownersByZone = [[Int32]](repeating: [], count: zoneCount)
        for id in model.owners { ownersByZone[Int(model.zone[Int(id)])].append(id) }
        let arena = ZoneArena(capacity: model.owners.count * 48 + 4096)
        var ranges: [(start: UInt32, length: UInt32)] = []
        ranges.reserveCapacity(zoneCount)
        for zone in 0..<zoneCount {
            let start = arena.count
            let apex = model.apexes[zone]
            let soa = model.set(apex, DNSType.soa.rawValue)
            _ = appendSet(model, to: arena, owner: model.name(apex), soa)
            for id in ownersByZone[zone] {
                var set = model.firstSet[Int(id)]
                while set >= 0 {
                    if !(id == apex && set == soa) { _ = appendSet(model, to: arena, owner: model.name(id), set) }
                    set = model.sets[Int(set)].next
                }
            }
            _ = appendSet(model, to: arena, owner: model.name(apex), soa)
            ranges.append((UInt32(start), UInt32(arena.count - start)))
        }
        return (arena, ranges)
    }

    /// One of the SOA's five numbers: 0 serial, 1 refresh, 2 retry, 3 expire, 4 minimum.
    static func soaField(_ rdata: UnsafeRawBufferPointer, _ index: Int) -> UInt32 {
        let at = rdata.count - 20 + index * 4
        guard at >= 0 else { return 0 }
        return UInt32(rdata[at]) << 24 | UInt32(rdata[at + 1]) << 16 | UInt32(rdata[at + 2]) << 8 | UInt32(rdata[at + 3])
    }
}

/// The model and the transfer copies as they cross to and from the thread that encodes the
/// copies. Not checked by the compiler: the model is only read, by both threads, while the
/// section is encoded, and the arena is handed over whole when that thread ends.
private struct SharedModel: @unchecked Sendable {
    let model: ZoneModel

    struct Transfers: @unchecked Sendable {
        let arena: (ZoneArena, [(start: UInt32, length: UInt32)])
    }
}
