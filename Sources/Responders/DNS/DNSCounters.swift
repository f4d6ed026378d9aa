/// Why a DNS query got no answer, or an error answer. Stable names: metric labels.
public enum DNSDropReason: Int, CaseIterable, Sendable {
    /// Shorter than a header: nothing to answer to.
    case short
    /// QR set: a response sent to us; answering could start a loop.
    case response
    /// Over the rate limit for its source /24 (no slip this time).
    case rateLimited
    /// A TCP message over 64 KiB, or a connection whose buffer would overflow.
    case oversized

    public var name: String {
        switch self {
        case .short: "short"
        case .response: "response"
        case .rateLimited: "rate_limited"
        case .oversized: "oversized"
        }
    }
}

/// Why a query was answered FORMERR (RFC 1035 §4.1.1: "unable to interpret the query").
public enum DNSFormatError: Int, CaseIterable, Sendable {
    case questionCount
    case badName
    case truncated
    case badRecords
    case duplicateOPT
    case badOPTOwner
    case optAsQuestion

    public var name: String {
        switch self {
        case .questionCount: "question_count"
        case .badName: "bad_name"
        case .truncated: "truncated"
        case .badRecords: "bad_records"
        case .duplicateOPT: "duplicate_opt"
        case .badOPTOwner: "bad_opt_owner"
        case .optAsQuestion: "opt_as_question"
        }
    }
}

/// What one ring's DNS responder saw and did; arrays indexed by enum raw values, so counting
/// is an increment.
public struct DNSCounters: Sendable {
    public var queriesUDP: UInt64 = 0
    public var queriesTCP: UInt64 = 0
    /// Responses by RCODE (16: BADVERS).
    public var responses = [UInt64](repeating: 0, count: 17)
    public var dropped = [UInt64](repeating: 0, count: DNSDropReason.allCases.count)
    public var formatErrors = [UInt64](repeating: 0, count: DNSFormatError.allCases.count)
    /// Answers cut to the header and question (TC set) because they exceeded the client's limit.
    public var truncated: UInt64 = 0
    /// Rate-limited responses sent as an empty TC answer so a real client retries over TCP.
    public var slipped: UInt64 = 0
    public var forwarded: UInt64 = 0
    public var cacheHits: UInt64 = 0
    public var upstreamTimeouts: UInt64 = 0
    public var transfers: UInt64 = 0

    public init() {}
}
