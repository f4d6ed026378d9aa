import Wire

/// A machine looking up its own name (an A query with RD set), and reading the answer.
public struct DNSLookup: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// NOERROR with these A records (empty: NODATA).
        case answered([IPv4Address])
        /// A response code other than NOERROR (3 is NXDOMAIN).
        case refused(rcode: UInt8)
        /// TC set: the server wants the query again (over TCP, or later past a rate limit).
        case truncated
        /// Not a response to this query.
        case ignored
        case malformed(String)
    }

    public let name: String
    public let id: UInt16

    public init(name: String, id: UInt16) {
        self.name = name
        self.id = id
    }

    public func writeQuery(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        var writer = WireWriter(buffer, limit: 512)
        var header = DNSHeader(id: id, questionCount: 1)
        header.rd = true
        try header.write(to: &writer)
        try DNSName.write(text: name, to: &writer)
        try writer.writeUInt16(DNSType.a.rawValue, "dns.question.type")
        try writer.writeUInt16(1, "dns.question.class")
        return writer.count
    }

    public func read(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        let message: DNSMessage
        do {
            message = try DNSMessage(parsing: bytes)
        } catch {
            return bytes.count >= 2 && bytes.uint16(at: 0) == id ? .malformed("\(error)") : .ignored
        }
        guard message.header.id == id, message.header.qr else { return .ignored }
        if message.header.tc { return .truncated }
        guard message.header.rcode == 0 else { return .refused(rcode: message.header.rcode) }
        var addresses: [IPv4Address] = []
        var records = message.records
        do {
            while let record = try records.next() {
                guard record.section == .answer, record.type == .a, record.rdataLength == 4 else { continue }
                addresses.append(IPv4Address(bytes: record.message, at: record.rdataOffset))
            }
        } catch {
            return .malformed("\(error)")
        }
        return .answered(addresses)
    }
}
