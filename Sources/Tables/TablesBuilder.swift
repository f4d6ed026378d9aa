import Wire

/// Builds a snapshot: the region's compiler and the site compiler fill it, `build` lays out
/// the file. Strings are stored once however often they are used.
public struct TablesBuilder {
    public struct Subnet {
        public var network: IPv4Address
        public var prefixLength: UInt8
        public var gateway: IPv4Address?
        public var nextServer: IPv4Address?
        public var dnsServers: [IPv4Address] = []
        public var domain: String = ""
        public var leaseSeconds: UInt32 = 600
        public var pxeLeaseSeconds: UInt32 = 0
        public var mtu: UInt16 = 0
        public var ignoreUnknownClients = false
        public var pools: [ClosedRange<IPv4Address>] = []
        public var reserved: [ClosedRange<IPv4Address>] = []
        public var bootProfile: Int = 0
        public var circuitPins: [(circuitID: [UInt8], address: IPv4Address)] = []

        public init(network: IPv4Address, prefixLength: UInt8) {
            self.network = network
            self.prefixLength = prefixLength
        }
    }

    public struct Reservation {
        public var mac: MACAddress
        public var address: IPv4Address?
        public var hostname: String = ""
        public var clientID: [UInt8] = []
        public var purpose: BootPurpose = .local
        public var architecture: MachineArchitecture = .amd64
        /// Extra kernel command-line words for this machine's boot (a report URL and token).
        public var bootArguments = ""

        public init(mac: MACAddress, address: IPv4Address?) {
            self.mac = mac
            self.address = address
        }
    }

    public struct BootProfile {
        public var nextServer: IPv4Address?
        public var bios = ""
        public var uefiX64 = ""
        public var uefiArm64 = ""
        public var httpBootURL = ""
        public var ipxeScript = ""
        public var kernel = ""
        public var initrd = ""
        public var commandLine = ""

        public init() {}
    }

    public var domain = ""
    public var filesRoot = ""
    public var upstreamDNS: [IPv4Address] = []
    public var declineQuarantineSeconds: UInt32 = 600
    public var perMACRequestsPerSecond: UInt32 = 10
    public var proxyDHCP = false
    public var authoritative = true
    /// Extra kernel command-line words for machines the tables do not know (the enlistment URL).
    public var enlistBootArguments = ""
    public var subnets: [Subnet] = []
    public var reservations: [Reservation] = []
    public var bootProfiles: [BootProfile] = [BootProfile()]
    /// Pre-encoded zone data (the DNS issue's section), opaque here.
    public var zones: [UInt8] = []

    public init() {}

    /// Lays out the snapshot file.
    public func build(generation: UInt64, createdAt: UInt64 = 0) -> [UInt8] {
        build(generation: generation, createdAt: createdAt, formatVersion: TablesFormat.version)
    }

    /// `formatVersion` 1 leaves out what version 2 added (the boot arguments): the tests use it
    /// to check that a file from an older build still opens.
    func build(generation: UInt64, createdAt: UInt64, formatVersion: UInt32) -> [UInt8] {
        buildSections(formatVersion: formatVersion).layout(zones: zones, generation: generation, createdAt: createdAt)
    }

    /// Every section but the zones, built and not yet laid out: the region fingerprints them and
    /// then lays them out with the zones, instead of building them twice.
    public struct BuiltSections: Sendable {
        /// The sections before the zones, and after them, in file order.
        let before: [(TablesFormat.Section, [UInt8], Int)]
        let after: [(TablesFormat.Section, [UInt8], Int)]
        let formatVersion: UInt32

        /// Feeds the format version and every section into `hasher`, in order (a new format
        /// makes a new generation even where no section's bytes change).
        public func fingerprint(into hasher: inout SHA256) {
            withUnsafeBytes(of: formatVersion.littleEndian) { hasher.update($0) }
            for (kind, bytes, count) in before + after {
                withUnsafeBytes(of: kind.rawValue.littleEndian) { hasher.update($0) }
                withUnsafeBytes(of: UInt64(count).littleEndian) { hasher.update($0) }
                withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { hasher.update($0) }
                hasher.update(bytes)
            }
        }

        /// The snapshot file: these sections and `zones`, stamped with generation and time.
        public func layout(zones: [UInt8], generation: UInt64, createdAt: UInt64) -> [UInt8] {
            layout(zones: EncodedZoneSection(bytes: zones), generation: generation, createdAt: createdAt)
        }

        /// The same with the zones encoded straight into their place in the file: at 100k
        /// machines that saves a 38 MB array and its copy.
        public func layout(zones: EncodedZoneSection, generation: UInt64, createdAt: UInt64) -> [UInt8] {
            let writers = before.map { TablesBuilder.SectionWriter($0.0, $0.1, count: $0.2) }
                + [TablesBuilder.SectionWriter(.zones, count: zones.size, size: zones.size, write: zones.write)]
                + after.map { TablesBuilder.SectionWriter($0.0, $0.1, count: $0.2) }
            return TablesBuilder.layout(writers, generation: generation, createdAt: createdAt, formatVersion: formatVersion)
        }
    }

    /// The sections in the current format (the zones are left out: see `BuiltSections`).
    public func buildSections() -> BuiltSections { buildSections(formatVersion: TablesFormat.version) }

    func buildSections(formatVersion: UInt32) -> BuiltSections {
        var strings = StringTable()
        var addresses: [UInt32] = []
        func addressList(_ list: [IPv4Address]) -> (UInt32, UInt32) {
            let first = UInt32(addresses.count)
            addresses += list.map(\.value)
            return (first, UInt32(list.count))
        }

        var settings = RecordWriter(size: SettingsRecord.size)
        let upstream = addressList(upstreamDNS)
        settings.string(strings.add(domain))
        settings.string(strings.add(filesRoot))
        settings.u32(upstream.0); settings.u32(upstream.1)
        settings.u32(declineQuarantineSeconds)
        settings.u32(perMACRequestsPerSecond)
        settings.u32((proxyDHCP ? SettingsRecord.proxyFlag : 0) | (authoritative ? SettingsRecord.authoritativeFlag : 0))
        if formatVersion >= 2 { settings.string(strings.add(enlistBootArguments)) }
        settings.finishRecord()

        var subnetRecords = RecordWriter(size: SubnetRecord.size)
        var ranges = RecordWriter(size: RangeRecord.size)
        var rangeCount: UInt32 = 0
        var pins = RecordWriter(size: CircuitPinRecord.size)
        var pinKeys: [(hash: UInt64, index: UInt32)] = []
        var pinCount: UInt32 = 0
        for (index, subnet) in subnets.enumerated() {
            let dns = addressList(subnet.dnsServers)
            let firstRange = rangeCount
            for (list, kind) in [(subnet.pools, RangeRecord.pool), (subnet.reserved, RangeRecord.reserved)] {
                for range in list {
                    ranges.u32(range.lowerBound.value); ranges.u32(range.upperBound.value)
                    ranges.u32(UInt32(index)); ranges.u8(kind)
                    ranges.finishRecord()
                    rangeCount += 1
                }
            }
            let firstPin = pinCount
            for pin in subnet.circuitPins {
                pins.string(strings.add(pin.circuitID))
                pins.u32(pin.address.value); pins.u32(UInt32(index))
                pins.finishRecord()
                pinKeys.append((pin.circuitID.withUnsafeBytes { TableHash.bytes($0) }, pinCount))
                pinCount += 1
            }
            subnetRecords.u32(subnet.network.value)
            subnetRecords.u8(subnet.prefixLength)
            subnetRecords.u8(subnet.ignoreUnknownClients ? 1 : 0)
            subnetRecords.u16(0)
            subnetRecords.u32(subnet.gateway?.value ?? 0)
            subnetRecords.u32(subnet.nextServer?.value ?? 0)
            subnetRecords.u32(subnet.leaseSeconds)
            subnetRecords.u32(subnet.pxeLeaseSeconds)
            subnetRecords.u16(subnet.mtu); subnetRecords.u16(0)
            subnetRecords.u32(dns.0); subnetRecords.u32(dns.1)
            subnetRecords.string(strings.add(subnet.domain))
            subnetRecords.u32(firstRange); subnetRecords.u32(rangeCount - firstRange)
            subnetRecords.u32(UInt32(subnet.bootProfile))
            subnetRecords.u32(firstPin); subnetRecords.u32(pinCount - firstPin)
            subnetRecords.finishRecord()
        }

        var reservationRecords = RecordWriter(size: ReservationRecord.size)
        var bootArguments = RecordWriter(size: StringRef.size)
        var macKeys: [(hash: UInt64, index: UInt32)] = []
        var clientKeys: [(hash: UInt64, index: UInt32)] = []
        for (index, reservation) in reservations.enumerated() {
            let subnet = reservation.address.flatMap { address in
                subnets.firstIndex { Self.contains($0, address) }
            }
            reservationRecords.u64(reservation.mac.value)
            reservationRecords.u32(reservation.address?.value ?? 0)
            reservationRecords.u32(subnet.map(UInt32.init) ?? UInt32.max)
            reservationRecords.string(strings.add(reservation.hostname))
            reservationRecords.string(strings.add(reservation.clientID))
            reservationRecords.u8(reservation.purpose.rawValue)
            reservationRecords.u8(reservation.architecture.rawValue)
            reservationRecords.finishRecord()
            bootArguments.string(strings.add(reservation.bootArguments))
            bootArguments.finishRecord()
            macKeys.append((reservation.mac.value, UInt32(index)))
            if !reservation.clientID.isEmpty {
                clientKeys.append((reservation.clientID.withUnsafeBytes { TableHash.bytes($0) }, UInt32(index)))
            }
        }

        var boot = RecordWriter(size: BootProfileRecord.size)
        for profile in bootProfiles {
            boot.u32(profile.nextServer?.value ?? 0); boot.u32(0)
            for text in [profile.bios, profile.uefiX64, profile.uefiArm64, profile.httpBootURL, profile.ipxeScript,
                         profile.kernel, profile.initrd, profile.commandLine] {
                boot.string(strings.add(text))
            }
            boot.finishRecord()
        }

        var addressBytes = RecordWriter(size: 4)
        for address in addresses { addressBytes.u32(address); addressBytes.finishRecord() }

        let sections: [(TablesFormat.Section, [UInt8], Int)] = [
            (.strings, strings.bytes, strings.bytes.count),
            (.settings, settings.bytes, 1),
            (.subnets, subnetRecords.bytes, subnets.count),
            (.ranges, ranges.bytes, Int(rangeCount)),
            (.addresses, addressBytes.bytes, addresses.count),
            (.reservations, reservationRecords.bytes, reservations.count),
            (.reservationsByMAC, Self.hashTable(macKeys, keyIsHash: false), TableHash.capacity(for: macKeys.count)),
            (.reservationsByClientID, Self.hashTable(clientKeys, keyIsHash: true), TableHash.capacity(for: clientKeys.count)),
            (.circuitPins, pins.bytes, Int(pinCount)),
            (.circuitPinsByID, Self.hashTable(pinKeys, keyIsHash: true), TableHash.capacity(for: pinKeys.count)),
            (.bootProfiles, boot.bytes, bootProfiles.count),
        ]
        let after: [(TablesFormat.Section, [UInt8], Int)] =
            formatVersion >= 2 ? [(.reservationBootArguments, bootArguments.bytes, reservations.count)] : []
        return BuiltSections(before: sections, after: after, formatVersion: formatVersion)
    }

    static func contains(_ subnet: Subnet, _ address: IPv4Address) -> Bool {
        let mask: UInt32 = subnet.prefixLength == 0 ? 0 : ~UInt32(0) << (32 - UInt32(subnet.prefixLength))
        return address.value & mask == subnet.network.value & mask
    }

    /// Open addressing with linear probing. By-MAC keys are the MAC (slot placement by its
    /// mixed hash); the others store the FNV hash of their bytes.
    static func hashTable(_ keys: [(hash: UInt64, index: UInt32)], keyIsHash: Bool) -> [UInt8] {
        let capacity = TableHash.capacity(for: keys.count)
        var keyColumn = [UInt64](repeating: 0, count: capacity)
        var targets = [UInt32](repeating: HashSlot.empty, count: capacity)
        let mask = UInt64(capacity - 1)
        for key in keys {
            var slot = Int((keyIsHash ? key.hash : TableHash.mac(key.hash)) & mask)
            while targets[slot] != HashSlot.empty {
                // A duplicate key keeps its first entry (the site validator refuses duplicates).
                if keyColumn[slot] == key.hash, !keyIsHash { break }
                slot = (slot + 1) & Int(mask)
            }
            if targets[slot] != HashSlot.empty { continue }
            keyColumn[slot] = key.hash
            targets[slot] = key.index
        }
        var writer = RecordWriter(size: HashSlot.size)
        for slot in 0..<capacity {
            writer.u64(keyColumn[slot]); writer.u32(targets[slot])
            writer.finishRecord()
        }
        return writer.bytes
    }

    /// A section as the layout places it: its size, and what writes its bytes in place.
    struct SectionWriter {
        let kind: TablesFormat.Section
        let count: Int
        let size: Int
        let write: (UnsafeMutableRawBufferPointer) -> Void

        init(_ kind: TablesFormat.Section, count: Int, size: Int, write: @escaping (UnsafeMutableRawBufferPointer) -> Void) {
            self.kind = kind
            self.count = count
            self.size = size
            self.write = write
        }

        init(_ kind: TablesFormat.Section, _ bytes: [UInt8], count: Int) {
            self.init(kind, count: count, size: bytes.count) { out in bytes.withUnsafeBytes { out.copyMemory(from: $0) } }
        }
    }

    static func layout(_ sections: [SectionWriter], generation: UInt64, createdAt: UInt64,
                       formatVersion: UInt32 = TablesFormat.version) -> [UInt8] {
        func aligned(_ offset: Int) -> Int { (offset + 7) & ~7 }
        // Every section at its place, each starting on 8 bytes, in one allocation: growing by
        // doubling would copy the zones (45 MB at 100k machines) several times over.
        var directory: [(TablesFormat.Section, Int, Int, Int)] = []
        var end = TablesFormat.headerLength + sections.count * TablesFormat.directoryEntryLength
        for section in sections {
            end = aligned(end)
            directory.append((section.kind, section.count, end, section.size))
            end += section.size
        }
        let total = aligned(end)
        var file = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            // Zeros where no section is: the header (written below) and the padding.
            var gap = 0
            for (index, entry) in directory.enumerated() {
                UnsafeMutableRawBufferPointer(rebasing: raw[gap..<entry.2]).initializeMemory(as: UInt8.self, repeating: 0)
                sections[index].write(UnsafeMutableRawBufferPointer(rebasing: raw[entry.2..<entry.2 + entry.3]))
                gap = entry.2 + entry.3
            }
            UnsafeMutableRawBufferPointer(rebasing: raw[gap..<total]).initializeMemory(as: UInt8.self, repeating: 0)
            initialized = total
        }
        file.withUnsafeMutableBytes { raw in
            for (i, byte) in TablesFormat.magic.enumerated() { raw[i] = byte }
            raw.storeBytes(of: formatVersion.littleEndian, toByteOffset: 8, as: UInt32.self)
            raw.storeBytes(of: UInt32(TablesFormat.headerLength).littleEndian, toByteOffset: 12, as: UInt32.self)
            raw.storeBytes(of: generation.littleEndian, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: UInt64(raw.count).littleEndian, toByteOffset: 24, as: UInt64.self)
            raw.storeBytes(of: UInt32(directory.count).littleEndian, toByteOffset: 32, as: UInt32.self)
            raw.storeBytes(of: createdAt.littleEndian, toByteOffset: 40, as: UInt64.self)
            for (i, entry) in directory.enumerated() {
                let at = TablesFormat.headerLength + i * TablesFormat.directoryEntryLength
                raw.storeBytes(of: entry.0.rawValue.littleEndian, toByteOffset: at, as: UInt32.self)
                raw.storeBytes(of: UInt32(entry.0.recordSize).littleEndian, toByteOffset: at + 4, as: UInt32.self)
                raw.storeBytes(of: UInt64(entry.1).littleEndian, toByteOffset: at + 8, as: UInt64.self)
                raw.storeBytes(of: UInt64(entry.2).littleEndian, toByteOffset: at + 16, as: UInt64.self)
                raw.storeBytes(of: UInt64(entry.3).littleEndian, toByteOffset: at + 24, as: UInt64.self)
            }
        }
        let digest = SHA256.hash(file)
        file.replaceSubrange(TablesFormat.digestOffset..<TablesFormat.digestOffset + 32, with: digest)
        return file
    }
}

/// Strings stored once each, referenced by (offset, length).
struct StringTable {
    var bytes: [UInt8] = []
    private var seen = BytesDictionary<StringRef>()

    mutating func add(_ text: String) -> StringRef { add(Array(text.utf8)) }

    mutating func add(_ value: [UInt8]) -> StringRef {
        if value.isEmpty { return .empty }
        if let known = seen[value] { return known }
        let ref = StringRef(offset: UInt32(bytes.count), length: UInt32(value.count))
        bytes += value
        seen[value] = ref
        return ref
    }
}

/// Appends little-endian fields of fixed-size records, padding each record to its size.
struct RecordWriter {
    let size: Int
    var bytes: [UInt8] = []
    private var recordStart = 0

    init(size: Int) { self.size = size }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ ref: StringRef) { u32(ref.offset); u32(ref.length) }

    mutating func finishRecord() {
        precondition(bytes.count - recordStart <= size, "record overflows its \(size) bytes")
        while bytes.count - recordStart < size { bytes.append(0) }
        recordStart = bytes.count
    }
}
