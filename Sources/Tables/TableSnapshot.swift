import Wire

/// A validated, immutable snapshot, read in place: no record is copied or decoded ahead of use.
///
/// The bytes come from a read-only mapping of the file (`TableFile`) or from memory (the
/// builder's output, tests). `init` checks everything a reader later relies on — magic,
/// version, lengths, checksum, every section's bounds and record size, every index and string
/// reference — so the accessors can then read without checks and can never fault.
public final class TableSnapshot: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    public let generation: UInt64
    /// The format version of the file (`TablesFormat.oldestReadableVersion`…`version`).
    public let version: UInt32
    public let createdAt: UInt64
    public let digest: [UInt8]
    private let owner: AnyObject?
    /// The zone section, validated with the rest.
    public private(set) var zoneTable: ZoneTable = .empty

    struct SectionLocation {
        var offset = 0
        var length = 0
        var count = 0
    }

    private var sections = [SectionLocation](repeating: SectionLocation(), count: 16)

    /// Validates `bytes`; `owner` keeps the memory alive (a mapping, an array box).
    public init(bytes: UnsafeRawBufferPointer, owner: AnyObject?) throws(TablesError) {
        self.bytes = bytes
        self.owner = owner
        guard bytes.count >= TablesFormat.headerLength else {
            throw TablesError(.truncated, "file is \(bytes.count) bytes, shorter than the \(TablesFormat.headerLength)-byte header")
        }
        guard bytes.prefix(8).elementsEqual(TablesFormat.magic) else {
            throw TablesError(.badMagic, "not a RackPlane table snapshot (magic is not RPTABLES)")
        }
        let version = Self.u32(bytes, 8)
        guard (TablesFormat.oldestReadableVersion...TablesFormat.version).contains(version) else {
            throw TablesError(.wrongVersion, "format version \(version); this build reads versions \(TablesFormat.oldestReadableVersion)-\(TablesFormat.version)")
        }
        self.version = version
        guard Self.u32(bytes, 12) == UInt32(TablesFormat.headerLength) else {
            throw TablesError(.badLength, "header length \(Self.u32(bytes, 12)), expected \(TablesFormat.headerLength)")
        }
        let declaredLength = Self.u64(bytes, 24)
        guard declaredLength == UInt64(bytes.count) else {
            throw TablesError(.truncated, "header says \(declaredLength) bytes, file has \(bytes.count)")
        }
        generation = Self.u64(bytes, 16)
        createdAt = Self.u64(bytes, 40)
        digest = Array(bytes[TablesFormat.digestOffset..<TablesFormat.digestOffset + 32])
        var hasher = SHA256()
        hasher.update(UnsafeRawBufferPointer(rebasing: bytes[0..<TablesFormat.digestOffset]))
        hasher.update([UInt8](repeating: 0, count: 32))
        hasher.update(UnsafeRawBufferPointer(rebasing: bytes[(TablesFormat.digestOffset + 32)...]))
        guard hasher.finish() == digest else {
            throw TablesError(.checksumMismatch, "SHA-256 of the contents does not match the header")
        }
        let count = Int(Self.u32(bytes, 32))
        guard count <= 64, TablesFormat.headerLength + count * TablesFormat.directoryEntryLength <= bytes.count else {
            throw TablesError(.badSection, "section directory of \(count) entries does not fit")
        }
        var seen = Set<UInt32>()
        for i in 0..<count {
            let at = TablesFormat.headerLength + i * TablesFormat.directoryEntryLength
            let kindValue = Self.u32(bytes, at)
            guard let kind = TablesFormat.Section(rawValue: kindValue) else {
                throw TablesError(.badSection, "unknown section kind \(kindValue)")
            }
            guard seen.insert(kindValue).inserted else { throw TablesError(.badSection, "section \(kind.name) appears twice") }
            let recordSize = Int(Self.u32(bytes, at + 4))
            let records = Self.u64(bytes, at + 8)
            let offset = Self.u64(bytes, at + 16)
            let length = Self.u64(bytes, at + 24)
            guard recordSize == kind.recordSize else {
                throw TablesError(.badSection, "section \(kind.name) has \(recordSize)-byte records, expected \(kind.recordSize)")
            }
            guard offset % 8 == 0, offset <= UInt64(bytes.count), length <= UInt64(bytes.count) - offset else {
                throw TablesError(.badSection, "section \(kind.name) at \(offset)+\(length) lies outside the file")
            }
            guard records.multipliedReportingOverflow(by: UInt64(recordSize)) == (length, false) else {
                throw TablesError(.badSection, "section \(kind.name): \(records) records of \(recordSize) bytes is not \(length) bytes")
            }
            sections[Int(kindValue)] = SectionLocation(offset: Int(offset), length: Int(length), count: Int(records))
        }
        for kind in TablesFormat.Section.allCases where !seen.contains(kind.rawValue) && kind.isRequired(inVersion: version) {
            throw TablesError(.badSection, "section \(kind.name) is missing")
        }
        try validateReferences()
        zoneTable = try ZoneTable(validating: zones)
    }

    /// Checks `array` as `init` does, in place, without keeping or copying it: for a builder
    /// checking its own output (a 100k-machine snapshot is 55 MB).
    public static func validate(_ array: [UInt8]) throws(TablesError) {
        if let failure = validationError(array) { throw failure }
    }

    /// What `validate` would throw, or nil: for a check run on another thread.
    public static func validationError(_ array: [UInt8]) -> TablesError? {
        array.withUnsafeBytes { raw in
            do throws(TablesError) {
                _ = try TableSnapshot(bytes: raw, owner: nil)
                return nil
            } catch {
                return error
            }
        }
    }

    /// Validates a snapshot held in an array (copied into memory the snapshot owns).
    public convenience init(_ array: [UInt8]) throws(TablesError) {
        let box = ByteBox(array)
        try self.init(bytes: box.bytes, owner: box)
    }

    // MARK: Raw access

    @inline(__always) static func u8(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt8 { b[at] }
    @inline(__always) static func u16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt16.self))
    }
    @inline(__always) static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }
    @inline(__always) static func u64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }

    @inline(__always)
    func location(_ kind: TablesFormat.Section) -> SectionLocation { sections[Int(kind.rawValue)] }

    /// Offset of record `index` of a section.
    @inline(__always)
    func record(_ kind: TablesFormat.Section, _ index: Int) -> Int {
        location(kind).offset + index * kind.recordSize
    }

    public func count(_ kind: TablesFormat.Section) -> Int { location(kind).count }
    public func length(_ kind: TablesFormat.Section) -> Int { location(kind).length }

    @inline(__always)
    func stringRef(at offset: Int) -> StringRef {
        StringRef(offset: Self.u32(bytes, offset), length: Self.u32(bytes, offset + 4))
    }

    /// The bytes of a string reference (validated at open).
    @inline(__always)
    public func string(_ ref: StringRef) -> UnsafeRawBufferPointer {
        let base = location(.strings).offset + Int(ref.offset)
        return UnsafeRawBufferPointer(rebasing: bytes[base..<base + Int(ref.length)])
    }

    public func text(_ ref: StringRef) -> String { String(decoding: string(ref), as: UTF8.self) }

    /// The pre-encoded zone section (empty until the DNS issue fills it).
    public var zones: UnsafeRawBufferPointer {
        let zone = location(.zones)
        return UnsafeRawBufferPointer(rebasing: bytes[zone.offset..<zone.offset + zone.length])
    }

    // MARK: Validation of references

    private func validateReferences() throws(TablesError) {
        let stringsLength = UInt64(location(.strings).length)
        func checkString(_ at: Int, _ what: @autoclosure () -> String) throws(TablesError) {
            let ref = stringRef(at: at)
            guard UInt64(ref.offset) + UInt64(ref.length) <= stringsLength else {
                throw TablesError(.indexOutOfRange, "\(what()): string \(ref.offset)+\(ref.length) past the strings section (\(stringsLength) bytes)")
            }
        }
        func checkSpan(_ first: UInt32, _ count: UInt32, in kind: TablesFormat.Section, _ what: @autoclosure () -> String) throws(TablesError) {
            guard UInt64(first) + UInt64(count) <= UInt64(self.count(kind)) else {
                throw TablesError(.indexOutOfRange, "\(what()): \(kind.name) \(first)+\(count) past \(self.count(kind)) records")
            }
        }
        guard count(.settings) == 1 else { throw TablesError(.badSection, "settings must hold exactly one record") }
        let settings = record(.settings, 0)
        try checkString(settings, "settings domain")
        try checkString(settings + 8, "settings files root")
        try checkString(settings + 36, "settings enlistment boot arguments")
        try checkSpan(Self.u32(bytes, settings + 16), Self.u32(bytes, settings + 20), in: .addresses, "upstream DNS")
        guard count(.bootProfiles) >= 1 else { throw TablesError(.badSection, "at least one boot profile is required") }
        for i in 0..<count(.subnets) {
            let at = record(.subnets, i)
            guard bytes[at + 4] <= 32 else { throw TablesError(.indexOutOfRange, "subnet \(i): prefix length \(bytes[at + 4])") }
            try checkSpan(Self.u32(bytes, at + 28), Self.u32(bytes, at + 32), in: .addresses, "subnet \(i) DNS servers")
            try checkString(at + 36, "subnet \(i) domain")
            try checkSpan(Self.u32(bytes, at + 44), Self.u32(bytes, at + 48), in: .ranges, "subnet \(i) ranges")
            guard Int(Self.u32(bytes, at + 52)) < count(.bootProfiles) else {
                throw TablesError(.indexOutOfRange, "subnet \(i): boot profile \(Self.u32(bytes, at + 52)) of \(count(.bootProfiles))")
            }
            try checkSpan(Self.u32(bytes, at + 56), Self.u32(bytes, at + 60), in: .circuitPins, "subnet \(i) circuit pins")
        }
        for i in 0..<count(.ranges) {
            let at = record(.ranges, i)
            guard Self.u32(bytes, at) <= Self.u32(bytes, at + 4) else { throw TablesError(.indexOutOfRange, "range \(i): start after end") }
            guard Int(Self.u32(bytes, at + 8)) < count(.subnets) else { throw TablesError(.indexOutOfRange, "range \(i): subnet out of range") }
        }
        for i in 0..<count(.reservations) {
            let at = record(.reservations, i)
            let subnet = Self.u32(bytes, at + 12)
            guard subnet == UInt32.max || Int(subnet) < count(.subnets) else {
                throw TablesError(.indexOutOfRange, "reservation \(i): subnet \(subnet) of \(count(.subnets))")
            }
            try checkString(at + 16, "reservation \(i) hostname")
            try checkString(at + 24, "reservation \(i) client id")
        }
        // Absent (a version-1 file) or one per reservation.
        let arguments = count(.reservationBootArguments)
        guard arguments == 0 || arguments == count(.reservations) else {
            throw TablesError(.badSection, "reservation_boot_arguments holds \(arguments) records for \(count(.reservations)) reservations")
        }
        for i in 0..<arguments {
            try checkString(record(.reservationBootArguments, i), "reservation \(i) boot arguments")
        }
        // The DHCP allocator relies on this: no machine's static address may be handed out
        // dynamically, so none lies in a pool unless a reserved range carves it out.
        for i in 0..<count(.reservations) {
            let at = record(.reservations, i)
            let subnet = Self.u32(bytes, at + 12)
            let address = Self.u32(bytes, at + 8)
            guard subnet != UInt32.max, address != 0 else { continue }
            let subnetAt = record(.subnets, Int(subnet))
            let first = Int(Self.u32(bytes, subnetAt + 44)), n = Int(Self.u32(bytes, subnetAt + 48))
            var inPool = false, inReserved = false
            for r in first..<first + n {
                let rangeAt = record(.ranges, r)
                guard Self.u32(bytes, rangeAt) <= address, address <= Self.u32(bytes, rangeAt + 4) else { continue }
                if bytes[rangeAt + 12] == RangeRecord.pool { inPool = true } else { inReserved = true }
            }
            guard !inPool || inReserved else {
                throw TablesError(.indexOutOfRange, "reservation \(i): static address \(IPv4Address(address)) lies in a dynamic pool")
            }
        }
        for i in 0..<count(.circuitPins) {
            let at = record(.circuitPins, i)
            try checkString(at, "circuit pin \(i)")
            guard Int(Self.u32(bytes, at + 12)) < count(.subnets) else { throw TablesError(.indexOutOfRange, "circuit pin \(i): subnet out of range") }
        }
        for i in 0..<count(.bootProfiles) {
            for field in 0..<8 { try checkString(record(.bootProfiles, i) + 8 + 8 * field, "boot profile \(i)") }
        }
        for (table, target) in [(TablesFormat.Section.reservationsByMAC, TablesFormat.Section.reservations),
                                (.reservationsByClientID, .reservations), (.circuitPinsByID, .circuitPins)] {
            let capacity = count(table)
            guard capacity >= 8, capacity & (capacity - 1) == 0 else {
                throw TablesError(.badHashTable, "\(table.name): capacity \(capacity) is not a power of two ≥ 8")
            }
            var used = 0
            for slot in 0..<capacity {
                let index = Self.u32(bytes, record(table, slot) + 8)
                if index == HashSlot.empty { continue }
                used += 1
                guard Int(index) < count(target) else {
                    throw TablesError(.indexOutOfRange, "\(table.name) slot \(slot): \(target.name) \(index) of \(count(target))")
                }
            }
            // At least one empty slot, or a lookup for a missing key would never end.
            guard used < capacity else { throw TablesError(.badHashTable, "\(table.name) has no empty slot") }
        }
    }
}

/// Owns a copy of bytes for a snapshot built in memory.
final class ByteBox {
    let buffer: UnsafeMutableRawBufferPointer
    let bytes: UnsafeRawBufferPointer

    init(_ array: [UInt8]) {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(array.count, 1), alignment: 16)
        array.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: memory[0..<array.count]).copyMemory(from: $0) }
        buffer = memory
        bytes = UnsafeRawBufferPointer(rebasing: memory[0..<array.count])
    }

    deinit { buffer.deallocate() }
}
