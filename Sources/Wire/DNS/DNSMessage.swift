/// A DNS message as a view over borrowed bytes (RFC 1035 §4.1).
///
/// Parsing reads the header and validates the question section; answer, authority and
/// additional records are read lazily by `records`. Nothing is copied or allocated. The
/// caller keeps `bytes` alive and unchanged while the view or anything from it is used.
public struct DNSMessage {
    public let bytes: UnsafeRawBufferPointer
    public let header: DNSHeader
    /// Offset just past the question section, where the answer section starts.
    public let recordsOffset: Int

    /// - Throws: `.truncated` for a short header or question, and any name error
    ///   (`.badPointer`, `.limitExceeded`) as "dns.question.name".
    @inlinable
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        let header = try DNSHeader(parsing: bytes)
        var offset = DNSHeader.size
        for _ in 0..<Int(header.questionCount) {
            offset = try DNSQuestion.parse(bytes, at: offset).1
        }
        self.bytes = bytes
        self.header = header
        self.recordsOffset = offset
    }

    /// The questions, already validated.
    @inlinable
    public var questions: DNSQuestions {
        DNSQuestions(message: bytes, offset: DNSHeader.size, count: Int(header.questionCount))
    }

    /// The first question, which is the only one in practice (RFC 9619: QDCOUNT is 1).
    @inlinable
    public var question: DNSQuestion? {
        var all = questions
        return all.next()
    }

    /// A fresh iterator over the answer, authority and additional records.
    @inlinable
    public var records: DNSRecordIterator { DNSRecordIterator(message: self) }

    /// The EDNS OPT record of the additional section, if any (the first one if there are
    /// several, which RFC 6891 §6.1.1 forbids: "it MUST be the only OPT RR in that message").
    @inlinable
    public func edns() throws(WireError) -> DNSOPT? {
        var iterator = records
        while let record = try iterator.next() {
            if record.section == .additional, record.type == .opt { return try DNSOPT(parsing: record) }
        }
        return nil
    }
}
