/// One entry of the question section (RFC 1035 §4.1.2).
public struct DNSQuestion {
    public let name: DNSName
    public let type: DNSType
    public let dnsClass: DNSClass

    @inlinable
    public init(name: DNSName, type: DNSType, dnsClass: DNSClass) {
        self.name = name
        self.type = type
        self.dnsClass = dnsClass
    }

    /// Reads the question at `offset`; returns it and the offset just past it.
    @inlinable
    static func parse(_ message: UnsafeRawBufferPointer, at offset: Int) throws(WireError) -> (DNSQuestion, Int) {
        let name = try DNSName(in: message, at: offset, field: "dns.question.name")
        var reader = WireReader(message, offset: name.end)
        let type = try reader.readUInt16("dns.question.type")
        let dnsClass = try reader.readUInt16("dns.question.class")
        return (DNSQuestion(name: name, type: DNSType(type), dnsClass: DNSClass(dnsClass)), reader.offset)
    }
}

/// The question section of a message that `DNSMessage` has already validated.
public struct DNSQuestions: Sequence, IteratorProtocol {
    @usableFromInline let message: UnsafeRawBufferPointer
    @usableFromInline var offset: Int
    @usableFromInline var remaining: Int

    @inlinable
    init(message: UnsafeRawBufferPointer, offset: Int, count: Int) {
        self.message = message
        self.offset = offset
        self.remaining = count
    }

    @inlinable
    public mutating func next() -> DNSQuestion? {
        guard remaining > 0, let (question, end) = try? DNSQuestion.parse(message, at: offset) else { return nil }
        remaining -= 1
        offset = end
        return question
    }
}
