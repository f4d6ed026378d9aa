/// Reads the answer, authority and additional records one at a time, in wire order.
///
/// Each `next()` validates one record's owner name and checks that its RDATA fits; RDATA is
/// decoded only on request (`DNSRecord.data()`). After an error the iterator is finished.
public struct DNSRecordIterator {
    public let message: UnsafeRawBufferPointer
    /// Offset of the next record.
    @inlinable public var offset: Int { position }
    /// The section the next record belongs to.
    @inlinable public var section: DNSSection { currentSection }
    @usableFromInline var position: Int
    @usableFromInline var currentSection: DNSSection
    @usableFromInline var remaining: Int
    @usableFromInline let counts: DNSHeader
    @usableFromInline var finished = false

    @inlinable
    public init(message: DNSMessage) {
        self.message = message.bytes
        self.position = message.recordsOffset
        self.currentSection = .answer
        self.remaining = Int(message.header.answerCount)
        self.counts = message.header
    }

    /// The next record, or nil once every count in the header is used up. Bytes after the
    /// last record are ignored, as RFC 1035 gives no meaning to them.
    @inlinable
    public mutating func next() throws(WireError) -> DNSRecord? {
        guard !finished else { return nil }
        while remaining == 0 {
            guard let following = DNSSection(rawValue: currentSection.rawValue + 1) else {
                finished = true
                return nil
            }
            currentSection = following
            remaining = Int(counts.count(of: following))
        }
        do throws(WireError) {
            let record = try readRecord()
            position = record.end
            remaining -= 1
            return record
        } catch {
            finished = true
            throw error
        }
    }

    @inlinable
    func readRecord() throws(WireError) -> DNSRecord {
        let fields = section.fields
        let name = try DNSName(in: message, at: offset, field: fields.name)
        var reader = WireReader(message, offset: name.end)
        try reader.require(10, fields.fixed)
        let type = try reader.readUInt16(fields.fixed)
        let dnsClass = try reader.readUInt16(fields.fixed)
        let ttl = try reader.readUInt32(fields.fixed)
        let length = Int(try reader.readUInt16(fields.fixed))
        guard length <= reader.remaining else { throw WireError(.truncated, fields.rdata, at: reader.offset) }
        return DNSRecord(
            name: name, type: DNSType(type), dnsClass: DNSClass(dnsClass), ttl: ttl,
            rdataOffset: reader.offset, rdataLength: length, section: section)
    }
}
