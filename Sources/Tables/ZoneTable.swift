import Glibc

/// The `zones` section read in place (`ZoneFormat`). `init` checks every offset a lookup can
/// follow, so lookups then read without checks and never fault, whatever the bytes.
public struct ZoneTable: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    public let zoneCount: Int
    public let nameCount: Int
    let capacity: Int
    let answerCount: Int
    let zonesOffset: Int
    let namesOffset: Int
    let hashOffset: Int
    let answersOffset: Int
    let aclOffset: Int
    let recursionCount: Int
    let transferCount: Int
    /// Responses per second to one source /24 over UDP; 0: no limit.
    public let responsesPerSecond: UInt32

    /// A table with no zones: every query is outside.
    public static let empty = ZoneTable()

    private init() {
        bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        zoneCount = 0; nameCount = 0; capacity = 0; answerCount = 0
        zonesOffset = 0; namesOffset = 0; hashOffset = 0; answersOffset = 0; aclOffset = 0
        recursionCount = 0; transferCount = 0; responsesPerSecond = 0
    }

    /// Validates the section; an empty section is an empty table.
    public init(validating bytes: UnsafeRawBufferPointer) throws(TablesError) {
        if bytes.isEmpty {
            self = .empty
            return
        }
        func fail(_ message: String) -> TablesError { TablesError(.badSection, "zones: " + message) }
        guard bytes.count >= ZoneFormat.headerSize, bytes.prefix(8).elementsEqual(ZoneFormat.magic) else {
            throw fail("missing RPZONES1 header")
        }
        guard bytes.count < Int(UInt32.max) else { throw fail("section over 4 GiB") }
        func u32(_ at: Int) -> Int { Int(bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian) }
        func u16(_ at: Int) -> Int { Int(bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian) }
        self.bytes = bytes
        zoneCount = u32(8)
        nameCount = u32(12)
        capacity = u32(16)
        answerCount = u32(20)
        zonesOffset = u32(24)
        namesOffset = u32(28)
        hashOffset = u32(32)
        answersOffset = u32(36)
        aclOffset = u32(40)
        recursionCount = u16(44)
        transferCount = u16(46)
        responsesPerSecond = UInt32(u32(48))
        func region(_ offset: Int, _ count: Int, _ size: Int, _ what: @autoclosure () -> String) throws(TablesError) {
            guard count <= bytes.count / size, offset <= bytes.count, count * size <= bytes.count - offset else {
                throw fail("\(what()) (\(count) × \(size) at \(offset)) runs past the section")
            }
        }
        try region(zonesOffset, zoneCount, ZoneFormat.zoneSize, "zones")
        try region(namesOffset, nameCount, ZoneFormat.nameSize, "names")
        try region(answersOffset, answerCount, ZoneFormat.answerEntrySize, "answer entries")
        try region(hashOffset, capacity, ZoneFormat.slotSize, "hash slots")
        try region(aclOffset, recursionCount + transferCount, ZoneFormat.aclSize, "access lists")
        guard capacity > 0, capacity & (capacity - 1) == 0, capacity > nameCount else {
            throw TablesError(.badHashTable, "zones: hash capacity \(capacity) for \(nameCount) names")
        }
        func answer(_ offset: Int, _ what: @autoclosure () -> String) throws(TablesError) {
            guard offset <= bytes.count - ZoneFormat.answerHeaderSize,
                  u16(offset + 8) <= bytes.count - offset - ZoneFormat.answerHeaderSize
            else { throw fail("\(what()) answer at \(offset) runs past the section") }
        }
        func name(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws(TablesError) {
            guard length >= 1, length <= 255, offset <= bytes.count - length else { throw fail("\(what()) name runs past the section") }
        }
        for zone in 0..<zoneCount {
            let at = zonesOffset + zone * ZoneFormat.zoneSize
            try name(u32(at), u32(at + 4), "zone \(zone) apex")
            try answer(u32(at + 12), "zone \(zone) NXDOMAIN")
            guard u32(at + 16) <= bytes.count, u32(at + 20) <= bytes.count - u32(at + 16) else {
                throw fail("zone \(zone) transfer records run past the section")
            }
        }
        for index in 0..<nameCount {
            let at = namesOffset + index * ZoneFormat.nameSize
            try name(u32(at), u16(at + 4), "name \(index)")
            guard u32(at + 8) < zoneCount else { throw TablesError(.indexOutOfRange, "zones: name \(index) names zone \(u32(at + 8))") }
            guard u32(at + 12) <= answerCount, u32(at + 16) <= answerCount - u32(at + 12) else {
                throw TablesError(.indexOutOfRange, "zones: name \(index) answer entries out of range")
            }
            try answer(u32(at + 20), "name \(index) default")
        }
        for entry in 0..<answerCount {
            try answer(u32(answersOffset + entry * ZoneFormat.answerEntrySize + 4), "entry \(entry)")
        }
        for slot in 0..<capacity {
            let target = u32(hashOffset + slot * ZoneFormat.slotSize + 4)
            guard target == Int(ZoneFormat.emptySlot) || target < nameCount else {
                throw TablesError(.badHashTable, "zones: slot \(slot) points at name \(target)")
            }
        }
        for i in 0..<(recursionCount + transferCount) where bytes[aclOffset + i * ZoneFormat.aclSize + 4] > 32 {
            throw fail("access-list entry \(i) has a prefix over 32")
        }
    }

    @inline(__always) func u32(_ at: Int) -> UInt32 { bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian }
    @inline(__always) func u16(_ at: Int) -> UInt16 { bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian }

    @inline(__always) func nameRecord(_ index: Int) -> Int { namesOffset + index * ZoneFormat.nameSize }

    /// The index of the name (lower-case wire form), or -1.
    public func find(_ name: UnsafeRawBufferPointer) -> Int {
        guard capacity > 0 else { return -1 }
        let hash = ZoneFormat.hash(name)
        let tag = UInt32(truncatingIfNeeded: hash >> 32)
        let mask = capacity - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let at = hashOffset + slot * ZoneFormat.slotSize
            let target = u32(at + 4)
            if target == ZoneFormat.emptySlot { return -1 }
            if u32(at) == tag {
                let record = nameRecord(Int(target))
                let length = Int(u16(record + 4))
                if length == name.count, memcmp(bytes.baseAddress! + Int(u32(record)), name.baseAddress!, length) == 0 {
                    return Int(target)
                }
            }
            slot = (slot + 1) & mask
        }
    }

    /// The answer `name` gives for `type`: its own, or its default (NODATA, a CNAME chain, a
    /// referral). ANY without an entry of its own gets the first entry's (`ZoneFormat`).
    public func answer(name index: Int, type: UInt16) -> ZoneAnswer {
        let record = nameRecord(index)
        let first = Int(u32(record + 12))
        let count = Int(u32(record + 16))
        let start = answersOffset + first * ZoneFormat.answerEntrySize
        var entry = start
        for _ in 0..<count {
            if u16(entry) == type { return ZoneAnswer(table: self, offset: Int(u32(entry + 4))) }
            entry += ZoneFormat.answerEntrySize
        }
        if type == ZoneFormat.anyType, count > 0 { return ZoneAnswer(table: self, offset: Int(u32(start + 4))) }
        return ZoneAnswer(table: self, offset: Int(u32(record + 20)))
    }

    /// Looks a query name up as an authoritative server does (RFC 1034 §4.3.2 with RFC 4592's
    /// wildcards): the name itself, else its closest existing ancestor — a referral, a wildcard
    /// below it, or NXDOMAIN. Nil when the name is in none of our zones.
    ///
    /// `query` holds the lower-cased name; the wildcard probe writes "\u{1}*" over the two bytes
    /// before an ancestor, so it needs two spare bytes in front of the name.
    public func resolve(_ query: ZoneQueryName, type: UInt16) -> ZoneAnswer? {
        guard zoneCount > 0 else { return nil }
        let exact = find(query.name)
        if exact >= 0 { return answer(name: exact, type: type) }
        var label = 1
        while label < query.labelCount {
            let suffix = query.suffix(label)
            let ancestor = find(suffix)
            if ancestor >= 0 {
                let record = nameRecord(ancestor)
                if u16(record + 6) & ZoneFormat.referral != 0 {
                    return ZoneAnswer(table: self, offset: Int(u32(record + 20)))
                }
                let wildcard = find(query.wildcard(label))
                if wildcard >= 0 { return answer(name: wildcard, type: type) }
                let zone = zonesOffset + Int(u32(record + 8)) * ZoneFormat.zoneSize
                return ZoneAnswer(table: self, offset: Int(u32(zone + 12)))
            }
            label += 1
        }
        return nil
    }

    /// The zone whose apex is exactly `name`, for a transfer.
    public func zone(apex name: UnsafeRawBufferPointer) -> Int? {
        let index = find(name)
        guard index >= 0 else { return nil }
        let zone = Int(u32(nameRecord(index) + 8))
        let apex = zonesOffset + zone * ZoneFormat.zoneSize
        return Int(u32(apex + 4)) == name.count && Int(u32(apex)) == Int(u32(nameRecord(index))) ? zone : nil
    }

    /// A zone's records for AXFR: SOA, the rest, SOA, owners written out, uncompressed.
    public func transferRecords(zone: Int) -> UnsafeRawBufferPointer {
        let at = zonesOffset + zone * ZoneFormat.zoneSize
        let start = Int(u32(at + 16))
        return UnsafeRawBufferPointer(rebasing: bytes[start..<start + Int(u32(at + 20))])
    }

    /// The SOA serial of a zone.
    public func serial(zone: Int) -> UInt32 { u32(zonesOffset + zone * ZoneFormat.zoneSize + 8) }

    public func recursionAllowed(_ address: UInt32) -> Bool { acl(address, from: 0, count: recursionCount) }
    public func transferAllowed(_ address: UInt32) -> Bool { acl(address, from: recursionCount, count: transferCount) }

    private func acl(_ address: UInt32, from first: Int, count: Int) -> Bool {
        for i in first..<(first + count) {
            let at = aclOffset + i * ZoneFormat.aclSize
            let prefix = UInt32(bytes[at + 4])
            let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
            if address & mask == u32(at) & mask { return true }
        }
        return false
    }
}

/// A pre-encoded answer: what follows the question in a response, and the header bits.
public struct ZoneAnswer {
    public let base: UnsafeRawPointer

    @usableFromInline
    init(table: ZoneTable, offset: Int) { base = table.bytes.baseAddress! + offset }

    @inlinable public var rcode: UInt8 { base.load(as: UInt8.self) }
    @inlinable public var isAuthoritative: Bool { base.load(fromByteOffset: 1, as: UInt8.self) & ZoneFormat.authoritative != 0 }
    @inlinable public var answerCount: UInt16 { UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) }
    @inlinable public var authorityCount: UInt16 { UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt16.self)) }
    @inlinable public var additionalCount: UInt16 { UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 6, as: UInt16.self)) }
    @inlinable public var records: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + ZoneFormat.answerHeaderSize,
                               count: Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 8, as: UInt16.self))))
    }
}

/// A query name lower-cased into a buffer the lookups may scribble on, with its label
/// offsets. One per responder, allocated once.
public final class ZoneQueryName {
    /// Two spare bytes, then the name.
    @usableFromInline let storage: UnsafeMutableRawBufferPointer
    @usableFromInline let labelStarts: UnsafeMutablePointer<UInt16>
    /// Labels before the root.
    @usableFromInline var _labelCount = 0
    public var labelCount: Int { _labelCount }
    @usableFromInline var _length = 0
    public var length: Int { _length }

    public init() {
        storage = .allocate(byteCount: 2 + 256, alignment: 8)
        labelStarts = .allocate(capacity: 128)
    }

    deinit {
        storage.deallocate()
        labelStarts.deallocate()
    }

    /// The lower-cased name.
    @inlinable public var name: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[2..<(2 + length)]) }

    /// The name without its first `label` labels.
    @inlinable
    public func suffix(_ label: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[Int(labelStarts[label])..<(2 + length)])
    }

    /// "*." followed by `suffix(label)`, written over the end of the label before it.
    @inlinable
    public func wildcard(_ label: Int) -> UnsafeRawBufferPointer {
        let start = Int(labelStarts[label]) - 2
        storage[start] = 1
        storage[start + 1] = UInt8(ascii: "*")
        return UnsafeRawBufferPointer(rebasing: storage[start..<(2 + length)])
    }

    /// Loads an uncompressed wire name from `bytes` at `offset`, folding ASCII to lower case.
    /// False if it is not a well-formed uncompressed name within the bytes.
    @inlinable
    public func load(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        var position = offset
        var out = 2
        var labels = 0
        while true {
            guard position < bytes.count else { return false }
            let count = Int(bytes[position])
            if count == 0 { break }
            guard count <= 63, position + 1 + count < bytes.count, out + 1 + count + 1 <= 2 + 255 else { return false }
            labelStarts[labels] = UInt16(out)
            labels += 1
            storage[out] = UInt8(count)
            for i in 1...count {
                let byte = bytes[position + i]
                storage[out + i] = byte &- 0x41 < 26 ? byte | 0x20 : byte
            }
            out += 1 + count
            position += 1 + count
        }
        storage[out] = 0
        _labelCount = labels
        _length = out + 1 - 2
        return true
    }
}
