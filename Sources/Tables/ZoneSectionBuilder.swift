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

    // MARK: Fingerprint and serial

    /// Feeds everything the section is built from into `hasher`, in order: equal input makes
    /// equal sections (the build is deterministic), so the region can tell whether a rack's
    /// zones changed without building them.
    public func fingerprint(into hasher: inout SHA256) {
        // Through a small buffer, not one array of the whole input (15 MB at 100k machines and
        // 100k records, built four bytes at a time): the same bytes reach the hasher.
        var feed = FingerprintFeed(hasher: hasher)
        defer { feed.release() }
        feed.put(responsesPerSecond)
        for list in [recursionAllowed, transferAllowed] {
            feed.put(UInt32(list.count))
            for entry in list { feed.put(entry.network.value); feed.put(UInt32(entry.prefixLength)) }
        }
        feed.put(UInt32(zones.count))
        for zone in zones {
            feed.put(zone.apex)
            feed.put(UInt32(zone.records.count))
            for record in zone.records {
                feed.put(record.owner)
                feed.put(UInt32(record.type))
                feed.put(record.ttl)
                feed.put(record.rdata)
            }
        }
        hasher = feed.finish()
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
        let encoded = try encode()
        return [UInt8](unsafeUninitializedCapacity: encoded.size) { buffer, initialized in
            encoded.write(UnsafeMutableRawBufferPointer(buffer))
            initialized = encoded.size
        }
    }

    /// The section encoded, to be written where the caller wants it (`BuiltSections.layout`
    /// writes it into its place in the snapshot).
    public func encode() throws(ZoneBuildError) -> EncodedZoneSection {
        if zones.isEmpty && recursionAllowed.isEmpty && transferAllowed.isEmpty && responsesPerSecond == 0 { return .empty }
        var layout = ZoneSectionLayout(model: try ZoneModel(zones))
        return try layout.encode(self)
    }
}

/// A zones section encoded but not yet written out: its size is known, so the snapshot's layout
/// has it written straight into its place in the file instead of copying a finished array.
public struct EncodedZoneSection {
    public let size: Int
    /// Writes the section into `out`, which is exactly `size` bytes.
    let write: (UnsafeMutableRawBufferPointer) -> Void

    init(size: Int, write: @escaping (UnsafeMutableRawBufferPointer) -> Void) {
        self.size = size
        self.write = write
    }

    /// A section built already, copied into its place.
    init(bytes: [UInt8]) {
        self.init(size: bytes.count) { out in bytes.withUnsafeBytes { out.copyMemory(from: $0) } }
    }

    static var empty: EncodedZoneSection { EncodedZoneSection(size: 0) { _ in } }
}

/// Collects a fingerprint's small pieces (lengths, names, RDATA) into a 64 KiB buffer and hands
/// the hasher full buffers.
private struct FingerprintFeed {
    private var hasher: SHA256
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)
    private var count = 0

    init(hasher: SHA256) { self.hasher = hasher }

    mutating func put(_ value: UInt32) {
        if count + 4 > buffer.count { flush() }
        buffer.storeBytes(of: value.littleEndian, toByteOffset: count, as: UInt32.self)
        count += 4
    }

    /// The length, then the bytes.
    mutating func put(_ bytes: [UInt8]) {
        put(UInt32(bytes.count))
        if count + bytes.count > buffer.count { flush() }
        if bytes.count > buffer.count {
            hasher.update(bytes)
        } else {
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[count...]).copyMemory(from: $0) }
            count += bytes.count
        }
    }

    private mutating func flush() {
        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        count = 0
    }

    mutating func finish() -> SHA256 {
        flush()
        return hasher
    }

    func release() { buffer.deallocate() }
}
