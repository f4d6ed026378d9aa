/// Typed RDATA: the kinds RackPlane serves and reads, and anything else kept as bytes.
public enum DNSRData {
    case a(IPv4Address)
    case aaaa(IPv6Address)
    case ns(DNSName)
    case cname(DNSName)
    case soa(DNSSOA)
    case ptr(DNSName)
    case mx(preference: UInt16, exchange: DNSName)
    case txt(DNSTXT)
    case srv(DNSSRV)
    case opt(DNSOPT)
    /// Any other type, as its raw RDATA (RFC 3597 §4: such RDATA holds no compressed names).
    case unknown(DNSType, UnsafeRawBufferPointer)

    /// The record type this RDATA belongs to.
    @inlinable
    public var type: DNSType {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .ns: .ns
        case .cname: .cname
        case .soa: .soa
        case .ptr: .ptr
        case .mx: .mx
        case .txt: .txt
        case .srv: .srv
        case .opt: .opt
        case .unknown(let type, _): type
        }
    }

    /// Decodes `record`'s RDATA by its type.
    ///
    /// - Throws: `.invalidLength` when the RDATA is not exactly the size its type needs
    ///   (A is 4 bytes, AAAA 16, a name must end where the RDATA ends), or the name errors.
    @inlinable
    public init(parsing record: DNSRecord) throws(WireError) {
        let message = record.message
        let offset = record.rdataOffset
        switch record.type {
        case .a:
            guard record.rdataLength == 4 else { throw WireError(.invalidLength, "dns.rdata.a", at: offset) }
            self = .a(IPv4Address(bytes: message, at: offset))
        case .aaaa:
            guard record.rdataLength == 16 else { throw WireError(.invalidLength, "dns.rdata.aaaa", at: offset) }
            self = .aaaa(IPv6Address(bytes: message, at: offset))
        case .ns:
            self = .ns(try Self.name(record, "dns.rdata.ns"))
        case .cname:
            self = .cname(try Self.name(record, "dns.rdata.cname"))
        case .ptr:
            self = .ptr(try Self.name(record, "dns.rdata.ptr"))
        case .soa:
            self = .soa(try DNSSOA(parsing: record))
        case .mx:
            guard record.rdataLength >= 3 else { throw WireError(.invalidLength, "dns.rdata.mx", at: offset) }
            let exchange = try DNSName(in: message, at: offset + 2, field: "dns.rdata.mx")
            guard exchange.end == record.end else { throw WireError(.invalidLength, "dns.rdata.mx", at: offset) }
            self = .mx(preference: message.uint16(at: offset), exchange: exchange)
        case .txt:
            self = .txt(try DNSTXT(rdata: record.rdata, at: offset))
        case .srv:
            self = .srv(try DNSSRV(parsing: record))
        case .opt:
            self = .opt(try DNSOPT(parsing: record))
        default:
            self = .unknown(record.type, record.rdata)
        }
    }

    /// A lone name that must fill the RDATA exactly (NS, CNAME, PTR).
    @inlinable
    static func name(_ record: DNSRecord, _ field: StaticString) throws(WireError) -> DNSName {
        guard record.rdataLength > 0 else { throw WireError(.invalidLength, field, at: record.rdataOffset) }
        let name = try DNSName(in: record.message, at: record.rdataOffset, field: field)
        guard name.end == record.end else { throw WireError(.invalidLength, field, at: record.rdataOffset) }
        return name
    }
}
