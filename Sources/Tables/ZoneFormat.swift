/// The layout of the `zones` section (authoritative DNS data), version 1. All integers
/// little-endian; every offset is from the start of the section. The builder is
/// `ZoneSectionBuilder`, the reader `ZoneTable`; `docs/dns.md` explains the choices.
///
///     header (64 bytes)
///        0  magic "RPZONES1"
///        8  zone count u32          12  name count u32
///       16  hash capacity u32       20  answer entry count u32
///       24  zones offset u32        28  names offset u32
///       32  hash offset u32         36  answers offset u32
///       40  ACL offset u32          44  recursion ACL count u16 · 46 transfer ACL count u16
///       48  responses/s per source /24 u32 (0: no limit)
///       52  data offset u32         56  data length u32 · 60 reserved
///     zone (24): 0 apex offset u32 · 4 apex length u32 · 8 serial u32 · 12 NXDOMAIN answer u32
///                16 transfer records offset u32 · 20 transfer records length u32
///     name (24): 0 name offset u32 · 4 name length u16 · 6 flags u16 · 8 zone u32
///                12 first answer entry u32 · 16 answer entry count u32 · 20 default answer u32
///     answer entry (8): 0 query type u16 · 2 reserved · 4 answer u32; a name's entries are
///                its RRsets in order (CNAME first where it has one); ANY (RFC 8482: one RRset)
///                takes the first entry's answer unless the name has an ANY entry (files
///                before 2026-11-27 carry one for every name)
///     hash slot (8): 0 tag u32 (FNV-1a-64 >> 32) · 4 name index u32 (UInt32.max: empty);
///                slot = hash & (capacity - 1), linear probing
///     ACL entry (8): 0 network u32 · 4 prefix length u8 · 5 reserved; recursion entries first
///     answer (12 + n): 0 rcode u8 · 1 flags u8 (bit 0 AA) · 2 answer count u16
///                4 authority count u16 · 6 additional count u16 · 8 length u16 · 10 reserved
///                12 the records as they follow the question in a response
///
/// Names are stored in lower-case wire form. An answer's records name their owner with a
/// compression pointer to offset 12 — the question's name, which a response copies from the
/// query — so one answer serves every spelling of the name and every name a wildcard matches;
/// other names in an answer are written out whole.
public enum ZoneFormat {
    public static let magic: [UInt8] = Array("RPZONES1".utf8)
    public static let headerSize = 64
    public static let zoneSize = 24
    public static let nameSize = 24
    public static let answerEntrySize = 8
    public static let slotSize = 8
    public static let aclSize = 8
    public static let answerHeaderSize = 12

    /// Name flags.
    public static let emptyNonTerminal: UInt16 = 1
    /// A delegation point or a name below one: every query gets the referral.
    public static let referral: UInt16 = 2

    /// Answer flags.
    public static let authoritative: UInt8 = 1

    /// The pointer to the question's name (offset 12), written as every answer's owner.
    public static let questionNamePointer: [UInt8] = [0xC0, 0x0C]

    public static let emptySlot = UInt32.max

    /// QTYPE ANY (255), answered from a name's first entry.
    public static let anyType: UInt16 = 255

    /// The builder's hash capacity: the smallest power of two that keeps the load at 0.8 or
    /// below. Every query probes the table, so at 100k machines (200k names) this halves the
    /// slots the queries keep resident (2 MiB, not 4). The price is longer runs: at a load of
    /// 0.76 a name found takes about 2.6 probes and a name absent (NXDOMAIN, the wildcard and
    /// ancestor probes) about 9, against 1.5 and 2.5 at 0.5; 8-byte slots keep a run of 9
    /// within two cache lines. Readers take any power of two above the name count.
    public static func hashCapacity(for count: Int) -> Int {
        var capacity = 8
        while capacity * 4 < count * 5 { capacity <<= 1 }
        return capacity
    }

    /// The hash of a lower-case wire name.
    @inline(__always)
    public static func hash(_ name: UnsafeRawBufferPointer) -> UInt64 { TableHash.bytes(name) }
}
