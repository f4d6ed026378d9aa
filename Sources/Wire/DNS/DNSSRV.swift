/// SRV RDATA (RFC 2782): where a service runs.
public struct DNSSRV {
    public let priority: UInt16
    public let weight: UInt16
    public let port: UInt16
    /// The host; "." means the service is decidedly not available.
    public let target: DNSName

    @inlinable
    public init(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }

    @inlinable
    init(parsing record: DNSRecord) throws(WireError) {
        let field: StaticString = "dns.rdata.srv"
        guard record.rdataLength >= 7 else { throw WireError(.invalidLength, field, at: record.rdataOffset) }
        var reader = WireReader(record.message, offset: record.rdataOffset, end: record.end)
        priority = try reader.readUInt16(field)
        weight = try reader.readUInt16(field)
        port = try reader.readUInt16(field)
        // RFC 2782 forbids compressing the target, but decompressing one costs nothing and
        // tshark accepts it, so reading is lenient; the writer never compresses it.
        target = try DNSName(in: record.message, at: reader.offset, field: field)
        guard target.end == record.end else { throw WireError(.invalidLength, field, at: record.rdataOffset) }
    }
}
