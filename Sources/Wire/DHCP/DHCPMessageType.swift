/// Option 53 values (RFC 2132 §9.6, RFC 4388 for the lease-query types).
public enum DHCPMessageType: UInt8, Sendable, CaseIterable {
    case discover = 1
    case offer = 2
    case request = 3
    case decline = 4
    case ack = 5
    case nak = 6
    case release = 7
    case inform = 8
    case forceRenew = 9
    case leaseQuery = 10
    case leaseUnassigned = 11
    case leaseUnknown = 12
    case leaseActive = 13

    public var name: String {
        switch self {
        case .discover: "DISCOVER"
        case .offer: "OFFER"
        case .request: "REQUEST"
        case .decline: "DECLINE"
        case .ack: "ACK"
        case .nak: "NAK"
        case .release: "RELEASE"
        case .inform: "INFORM"
        case .forceRenew: "FORCERENEW"
        case .leaseQuery: "LEASEQUERY"
        case .leaseUnassigned: "LEASEUNASSIGNED"
        case .leaseUnknown: "LEASEUNKNOWN"
        case .leaseActive: "LEASEACTIVE"
        }
    }
}
