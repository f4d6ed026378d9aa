/// The snapshot file format, version 2. All integers little-endian (both targets, x86-64 and
/// arm64, load them directly). Every record is fixed-size; records refer to each other by
/// index and to text by `StringRef` (offset, length) into the strings section, so any record
/// is reachable without parsing anything before it.
///
///     offset  size  header
///          0     8  magic "RPTABLES"
///          8     4  format version (2; version 1 files, which lack the reservation boot
///                   arguments section, are still read)
///         12     4  header length (128)
///         16     8  generation (rises with every change)
///         24     8  file length
///         32     4  section count
///         36     4  flags (0)
///         40     8  created at (Unix seconds)
///         48    32  SHA-256 of the whole file with these 32 bytes zeroed
///         80    48  reserved (zero)
///        128  32×n  section directory: kind u32, record size u32, count u64, offset u64, length u64
///
/// Sections start 8-byte aligned. `docs/tables.md` describes each record.
public enum TablesFormat {
    public static let magic: [UInt8] = Array("RPTABLES".utf8)
    public static let version: UInt32 = 2
    /// The oldest version this build reads.
    public static let oldestReadableVersion: UInt32 = 1
    public static let headerLength = 128
    public static let directoryEntryLength = 32
    public static let digestOffset = 48

    /// Section kinds. Unknown kinds are refused (a reader knows every kind of the versions it
    /// reads).
    public enum Section: UInt32, CaseIterable, Sendable {
        case strings = 1
        case settings = 2
        case subnets = 3
        case ranges = 4
        case addresses = 5
        case reservations = 6
        case reservationsByMAC = 7
        case reservationsByClientID = 8
        case circuitPins = 9
        case circuitPinsByID = 10
        case bootProfiles = 11
        /// Authoritative DNS data; filled by the DNS issue, present and empty until then.
        case zones = 12
        /// Per-reservation extra kernel command-line words (version 2): one `StringRef` per
        /// reservation, in reservation order — the region's per-boot report URL and token.
        case reservationBootArguments = 13

        /// Whether a file of `version` must hold this section (a version-1 file predates it).
        public func isRequired(inVersion version: UInt32) -> Bool {
            self != .reservationBootArguments || version >= 2
        }

        /// The fixed size of one record (1 for byte sections).
        public var recordSize: Int {
            switch self {
            case .strings, .zones: 1
            case .reservationBootArguments: StringRef.size
            case .settings: SettingsRecord.size
            case .subnets: SubnetRecord.size
            case .ranges: RangeRecord.size
            case .addresses: 4
            case .reservations: ReservationRecord.size
            case .reservationsByMAC, .reservationsByClientID, .circuitPinsByID: HashSlot.size
            case .circuitPins: CircuitPinRecord.size
            case .bootProfiles: BootProfileRecord.size
            }
        }

        public var name: String {
            switch self {
            case .strings: "strings"
            case .settings: "settings"
            case .subnets: "subnets"
            case .ranges: "ranges"
            case .addresses: "addresses"
            case .reservations: "reservations"
            case .reservationsByMAC: "reservations_by_mac"
            case .reservationsByClientID: "reservations_by_client_id"
            case .circuitPins: "circuit_pins"
            case .circuitPinsByID: "circuit_pins_by_id"
            case .bootProfiles: "boot_profiles"
            case .zones: "zones"
            case .reservationBootArguments: "reservation_boot_arguments"
            }
        }
    }
}

/// Text in the strings section.
public struct StringRef: Equatable, Sendable {
    public var offset: UInt32
    public var length: UInt32
    public static let empty = StringRef(offset: 0, length: 0)
    public static let size = 8
}

/// Global settings: one record.
///     0 domain: StringRef · 8 files root: StringRef · 16 upstream DNS: first u32, count u32
///     24 decline quarantine seconds u32 · 28 per-MAC requests/s u32 · 32 flags u32 (bit 0 proxyDHCP,
///     bit 1 authoritative) · 36 enlistment boot arguments: StringRef (extra kernel command-line
///     words for machines the tables do not know; zero in version 1, which is empty) · 44 reserved
public enum SettingsRecord {
    public static let size = 48
    public static let proxyFlag: UInt32 = 1
    public static let authoritativeFlag: UInt32 = 2
}

/// One subnet.
///     0 network u32 · 4 prefix length u8 · 5 unknown clients u8 (0 serve, 1 ignore) · 6 reserved u16
///     8 gateway u32 (0: none) · 12 next server u32 (0: none) · 16 lease seconds u32
///     20 PXE lease seconds u32 (0: same) · 24 MTU u16 (0: none) · 26 reserved u16
///     28 DNS servers: first u32 · 32 count u32 (into addresses) · 36 domain StringRef
///     44 ranges: first u32 · 48 count u32 (into ranges; pools then reserved)
///     52 boot profile u32 · 56 circuit pins: first u32 · 60 count u32
public enum SubnetRecord {
    public static let size = 64
}

/// An address range of a subnet: 0 start u32 · 4 end u32 (inclusive) · 8 subnet u32 · 12 kind u8
/// (1 dynamic pool, 2 reserved) · 13 reserved.
public enum RangeRecord {
    public static let size = 16
    public static let pool: UInt8 = 1
    public static let reserved: UInt8 = 2
}

/// A reservation (a known machine): 0 MAC u64 (48 bits) · 8 address u32 (0: none) · 12 subnet u32
/// (UInt32.max: none) · 16 hostname StringRef · 24 client identifier StringRef · 32 purpose u8 ·
/// 33 architecture u8 · 34 reserved.
public enum ReservationRecord {
    public static let size = 40
}

/// An option-82 circuit-id pin: 0 circuit id StringRef · 8 address u32 · 12 subnet u32.
public enum CircuitPinRecord {
    public static let size = 16
}

/// A boot profile: 0 next server u32 · 4 reserved · then StringRefs at 8 bios, 16 UEFI x64,
/// 24 UEFI arm64, 32 HTTP boot URL, 40 iPXE script, 48 kernel, 56 initrd, 64 command line.
public enum BootProfileRecord {
    public static let size = 72
}

/// Open-addressing hash slot: 0 key u64 · 8 target index u32 (UInt32.max: empty) · 12 reserved.
/// The key is the MAC itself (by-MAC table) or FNV-1a-64 of the key bytes (the others, whose
/// lookups then compare the bytes). Capacity is a power of two at least twice the entries;
/// linear probing.
public enum HashSlot {
    public static let size = 16
    public static let empty = UInt32.max
}

/// Boot purposes (what the rack renders for a machine).
public enum BootPurpose: UInt8, Sendable, CaseIterable {
    case local = 0
    case commission = 1
    case deploy = 2
    case rescue = 3
    case enlist = 4

    public var name: String {
        switch self {
        case .local: "local"
        case .commission: "commission"
        case .deploy: "deploy"
        case .rescue: "rescue"
        case .enlist: "enlist"
        }
    }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// Architectures (RFC 4578 option 93 families the rack chooses boot files by).
public enum MachineArchitecture: UInt8, Sendable, CaseIterable {
    case amd64 = 0
    case arm64 = 1
    case i386 = 2
    case unknown = 255

    public var name: String {
        switch self {
        case .amd64: "amd64"
        case .arm64: "arm64"
        case .i386: "i386"
        case .unknown: "unknown"
        }
    }

    public init(name: String) {
        self = Self.allCases.first { $0.name == name } ?? .unknown
    }
}

/// Hashing for the table indexes.
public enum TableHash {
    /// MACs are spread with a 64-bit finaliser (the raw value clusters by vendor prefix).
    @inline(__always)
    public static func mac(_ value: UInt64) -> UInt64 {
        var x = value &+ 0x9E37_79B9_7F4A_7C15
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    /// FNV-1a, 64-bit.
    @inline(__always)
    public static func bytes(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    /// For the builders' own lookup tables, never written into a snapshot (whose hashes readers
    /// recompute, so they stay `bytes`): eight bytes a step instead of one, then `mac`'s
    /// finaliser. A 100k-machine compile hashes a million names and 600k encoded answers.
    @inline(__always)
    public static func words(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        guard let base = bytes.baseAddress else { return mac(hash) }
        let count = bytes.count
        var index = 0
        while index + 8 <= count {
            hash = (hash ^ base.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            hash ^= hash >> 29
            index += 8
        }
        if index < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while index < count {
                tail |= UInt64(base.load(fromByteOffset: index, as: UInt8.self)) << shift
                shift += 8
                index += 1
            }
            hash = (hash ^ tail) &* 0xBF58_476D_1CE4_E5B9
            hash ^= hash >> 29
        }
        return mac(hash)
    }

    /// Table capacity for `count` entries: a power of two, at least twice as many, at least 8.
    public static func capacity(for count: Int) -> Int {
        var capacity = 8
        while capacity < count * 2 { capacity <<= 1 }
        return capacity
    }
}
