/// One resource record (RFC 1035 §4.1.3) as offsets into its message.
public struct DNSRecord {
    /// The owner name.
    public let name: DNSName
    public let type: DNSType
    /// The class; for OPT, the UDP payload size.
    public let dnsClass: DNSClass
    /// The time to live; for OPT, the extended RCODE, version and flags.
    public let ttl: UInt32
    /// Offset of the RDATA from the start of the message.
    public let rdataOffset: Int
    public let rdataLength: Int
    /// The section the record was found in.
    public let section: DNSSection

    @inlinable
    public init(name: DNSName, type: DNSType, dnsClass: DNSClass, ttl: UInt32, rdataOffset: Int, rdataLength: Int, section: DNSSection) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
        self.ttl = ttl
        self.rdataOffset = rdataOffset
        self.rdataLength = rdataLength
        self.section = section
    }

    @inlinable public var message: UnsafeRawBufferPointer { name.message }

    /// Offset just past the RDATA, where the next record starts.
    @inlinable public var end: Int { rdataOffset + rdataLength }

    /// The raw RDATA bytes.
    @inlinable
    public var rdata: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: message[rdataOffset..<end])
    }

    /// The RDATA decoded by type; unknown types stay opaque.
    @inlinable
    public func data() throws(WireError) -> DNSRData { try DNSRData(parsing: self) }
}
