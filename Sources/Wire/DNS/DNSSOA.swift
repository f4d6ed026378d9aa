/// SOA RDATA (RFC 1035 §3.3.13): the zone's primary server, its contact and its timers.
public struct DNSSOA {
    public let mname: DNSName
    /// The responsible person's mailbox, first label being the local part.
    public let rname: DNSName
    public let serial: UInt32
    public let refresh: UInt32
    public let retry: UInt32
    public let expire: UInt32
    /// The negative-caching TTL (RFC 2308 §4).
    public let minimum: UInt32

    @inlinable
    public init(mname: DNSName, rname: DNSName, serial: UInt32, refresh: UInt32, retry: UInt32, expire: UInt32, minimum: UInt32) {
        self.mname = mname
        self.rname = rname
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }

    @inlinable
    init(parsing record: DNSRecord) throws(WireError) {
        let field: StaticString = "dns.rdata.soa"
        let message = record.message
        let end = record.end
        // Two names of at least one byte each, then five 32-bit numbers.
        guard record.rdataLength >= 22 else { throw WireError(.invalidLength, field, at: record.rdataOffset) }
        mname = try DNSName(in: message, at: record.rdataOffset, field: field)
        guard mname.end <= end else { throw WireError(.invalidLength, field, at: record.rdataOffset) }
        rname = try DNSName(in: message, at: mname.end, field: field)
        guard rname.end + 20 == end else { throw WireError(.invalidLength, field, at: record.rdataOffset) }
        var reader = WireReader(message, offset: rname.end, end: end)
        serial = try reader.readUInt32(field)
        refresh = try reader.readUInt32(field)
        retry = try reader.readUInt32(field)
        expire = try reader.readUInt32(field)
        minimum = try reader.readUInt32(field)
    }
}
