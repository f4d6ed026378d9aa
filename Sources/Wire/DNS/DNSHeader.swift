/// The fixed 12-byte DNS header (RFC 1035 §4.1.1), with the flag bits as accessors.
public struct DNSHeader: Hashable, Sendable {
    public static let size = 12

    public var id: UInt16
    /// QR, Opcode, AA, TC, RD, RA, Z, AD, CD and RCODE as they sit on the wire.
    public var flags: UInt16
    public var questionCount: UInt16
    public var answerCount: UInt16
    public var authorityCount: UInt16
    public var additionalCount: UInt16

    @inlinable
    public init(
        id: UInt16 = 0, flags: UInt16 = 0, questionCount: UInt16 = 0, answerCount: UInt16 = 0,
        authorityCount: UInt16 = 0, additionalCount: UInt16 = 0
    ) {
        self.id = id
        self.flags = flags
        self.questionCount = questionCount
        self.answerCount = answerCount
        self.authorityCount = authorityCount
        self.additionalCount = additionalCount
    }

    /// Reads the header at the start of `bytes`; fails with `.truncated` naming the first
    /// field that does not fit.
    @inlinable
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        var reader = WireReader(bytes)
        id = try reader.readUInt16("dns.header.id")
        flags = try reader.readUInt16("dns.header.flags")
        questionCount = try reader.readUInt16("dns.header.qdcount")
        answerCount = try reader.readUInt16("dns.header.ancount")
        authorityCount = try reader.readUInt16("dns.header.nscount")
        additionalCount = try reader.readUInt16("dns.header.arcount")
    }

    @inlinable
    public func write(to writer: inout WireWriter) throws(WireError) {
        try writer.require(Self.size, "dns.header")
        try writer.writeUInt16(id, "dns.header.id")
        try writer.writeUInt16(flags, "dns.header.flags")
        try writer.writeUInt16(questionCount, "dns.header.qdcount")
        try writer.writeUInt16(answerCount, "dns.header.ancount")
        try writer.writeUInt16(authorityCount, "dns.header.nscount")
        try writer.writeUInt16(additionalCount, "dns.header.arcount")
    }

    /// The number of entries the header announces for `section`.
    @inlinable
    public func count(of section: DNSSection) -> UInt16 {
        switch section {
        case .question: questionCount
        case .answer: answerCount
        case .authority: authorityCount
        case .additional: additionalCount
        }
    }

    @inlinable
    func bit(_ n: UInt16) -> Bool { flags & (1 << n) != 0 }

    @inlinable
    mutating func setBit(_ n: UInt16, _ on: Bool) {
        if on { flags |= 1 << n } else { flags &= ~(1 << n) }
    }

    /// Query (false) or response (true).
    @inlinable public var qr: Bool { get { bit(15) } set { setBit(15, newValue) } }
    /// Kind of query: 0 QUERY, 1 IQUERY, 2 STATUS, 4 NOTIFY, 5 UPDATE.
    @inlinable public var opcode: UInt8 {
        get { UInt8(truncatingIfNeeded: flags >> 11) & 0xF }
        set { flags = flags & ~(0xF << 11) | UInt16(newValue & 0xF) << 11 }
    }
    /// Authoritative answer.
    @inlinable public var aa: Bool { get { bit(10) } set { setBit(10, newValue) } }
    /// Truncated.
    @inlinable public var tc: Bool { get { bit(9) } set { setBit(9, newValue) } }
    /// Recursion desired.
    @inlinable public var rd: Bool { get { bit(8) } set { setBit(8, newValue) } }
    /// Recursion available.
    @inlinable public var ra: Bool { get { bit(7) } set { setBit(7, newValue) } }
    /// The reserved Z bit, which must be zero.
    @inlinable public var z: Bool { get { bit(6) } set { setBit(6, newValue) } }
    /// Authentic data (RFC 4035 §3.2.3).
    @inlinable public var ad: Bool { get { bit(5) } set { setBit(5, newValue) } }
    /// Checking disabled (RFC 4035 §3.2.2).
    @inlinable public var cd: Bool { get { bit(4) } set { setBit(4, newValue) } }
    /// The low four bits of the response code; EDNS adds eight more (see `DNSOPT`).
    @inlinable public var rcode: UInt8 {
        get { UInt8(truncatingIfNeeded: flags) & 0xF }
        set { flags = flags & ~0xF | UInt16(newValue & 0xF) }
    }
}
