/// The EDNS(0) OPT pseudo-record (RFC 6891 §6.1.2): the CLASS and TTL fields are reused for
/// the requestor's UDP payload size, the extended RCODE, the version and flags, and the
/// RDATA is a list of {OPTION-CODE, OPTION-LENGTH, OPTION-DATA}.
public struct DNSOPT {
    /// "the number of octets of the largest UDP payload that can be reassembled and delivered
    /// in the requestor's network stack".
    public let udpPayloadSize: UInt16
    /// The upper eight bits of the 12-bit RCODE; see `fullRCode(header:)`.
    public let extendedRCode: UInt8
    public let version: UInt8
    /// The 16 flag bits, DO being the top one.
    public let flags: UInt16
    /// The options, already validated to fill the RDATA exactly.
    public let options: Options

    /// "DNSSEC OK" (RFC 3225 §3).
    @inlinable public var dnssecOK: Bool { flags & 0x8000 != 0 }

    /// The whole response code: the header's four bits below the OPT's eight.
    @inlinable
    public func fullRCode(header: DNSHeader) -> UInt16 {
        UInt16(extendedRCode) << 4 | UInt16(header.rcode)
    }

    /// The TTL field that holds `extendedRCode`, `version` and `flags`.
    @inlinable
    public static func ttl(extendedRCode: UInt8, version: UInt8, flags: UInt16) -> UInt32 {
        UInt32(extendedRCode) << 24 | UInt32(version) << 16 | UInt32(flags)
    }

    /// Reads an OPT record. The owner name is not checked: RFC 6891 §6.1.1 says it "MUST be 0
    /// (root domain)", but refusing is the responder's call (FORMERR), not the view's.
    ///
    /// - Throws: `.truncated` for an option whose header or data runs past the RDATA.
    @inlinable
    public init(parsing record: DNSRecord) throws(WireError) {
        udpPayloadSize = record.dnsClass.rawValue
        extendedRCode = UInt8(truncatingIfNeeded: record.ttl >> 24)
        version = UInt8(truncatingIfNeeded: record.ttl >> 16)
        flags = UInt16(truncatingIfNeeded: record.ttl)
        let rdata = record.rdata
        var position = 0
        while position < rdata.count {
            guard position + 4 <= rdata.count else {
                throw WireError(.truncated, "dns.opt.option", at: record.rdataOffset + position)
            }
            let length = Int(rdata.uint16(at: position + 2))
            guard position + 4 + length <= rdata.count else {
                throw WireError(.truncated, "dns.opt.option.length", at: record.rdataOffset + position + 2)
            }
            position += 4 + length
        }
        options = Options(rdata: rdata)
    }

    /// One EDNS option.
    public struct Option {
        public let code: UInt16
        public let data: UnsafeRawBufferPointer

        @inlinable
        public init(code: UInt16, data: UnsafeRawBufferPointer) {
            self.code = code
            self.data = data
        }
    }

    /// The options in wire order.
    public struct Options: Sequence, IteratorProtocol {
        /// The whole RDATA.
        public let rdata: UnsafeRawBufferPointer
        @usableFromInline var position = 0

        @inlinable
        init(rdata: UnsafeRawBufferPointer) { self.rdata = rdata }

        @inlinable
        public mutating func next() -> Option? {
            guard position < rdata.count else { return nil }
            let code = rdata.uint16(at: position)
            let start = position + 4
            position = start + Int(rdata.uint16(at: position + 2))
            return Option(code: code, data: UnsafeRawBufferPointer(rebasing: rdata[start..<position]))
        }
    }
}
