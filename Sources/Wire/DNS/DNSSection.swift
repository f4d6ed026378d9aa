/// The four sections of a DNS message, in wire order (RFC 1035 §4.1).
public enum DNSSection: UInt8, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case question, answer, authority, additional

    public static func < (lhs: DNSSection, rhs: DNSSection) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .question: "question"
        case .answer: "answer"
        case .authority: "authority"
        case .additional: "additional"
        }
    }

    /// Field names for errors, so a failure says which section it was reading.
    @usableFromInline
    struct Fields {
        @usableFromInline let name: StaticString
        @usableFromInline let fixed: StaticString
        @usableFromInline let rdata: StaticString

        @usableFromInline
        init(name: StaticString, fixed: StaticString, rdata: StaticString) {
            self.name = name
            self.fixed = fixed
            self.rdata = rdata
        }
    }

    @usableFromInline
    var fields: Fields {
        switch self {
        case .question: Fields(name: "dns.question.name", fixed: "dns.question.type", rdata: "dns.question")
        case .answer: Fields(name: "dns.answer.name", fixed: "dns.answer.type", rdata: "dns.answer.rdata")
        case .authority: Fields(name: "dns.authority.name", fixed: "dns.authority.type", rdata: "dns.authority.rdata")
        case .additional: Fields(name: "dns.additional.name", fixed: "dns.additional.type", rdata: "dns.additional.rdata")
        }
    }
}
