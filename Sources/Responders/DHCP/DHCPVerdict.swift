import Wire

/// Where a reply goes, decided by RFC 2131 §4.1 (see `DHCPServer.destination`).
public enum DHCPDestination: Equatable, Sendable {
    /// To a relay agent's server port (giaddr was set).
    case relay(IPv4Address)
    /// To a client that has an address (ciaddr was set), port 68.
    case unicast(IPv4Address)
    /// To 255.255.255.255:68 on the arrival interface.
    case broadcast
    /// To `mac` at `address` before the client has configured it: an Ethernet frame built by
    /// the caller (or, where raw sockets are not allowed, a broadcast).
    case link(mac: MACAddress, address: IPv4Address)
}

/// Why a request got no reply. Stable names: they label the drop counters.
public enum DHCPDropReason: Int, CaseIterable, Sendable {
    case malformed
    case notARequest
    case noMessageType
    case unsupportedMessageType
    case unsupportedHardware
    case noSubnet
    case unknownClient
    case poolExhausted
    case rateLimited
    case otherServerSelected
    case noRecord
    case replyTooLarge
    case proxyOnly

    public var name: String {
        switch self {
        case .malformed: "malformed"
        case .notARequest: "not_a_request"
        case .noMessageType: "no_message_type"
        case .unsupportedMessageType: "unsupported_message_type"
        case .unsupportedHardware: "unsupported_hardware"
        case .noSubnet: "no_subnet"
        case .unknownClient: "unknown_client"
        case .poolExhausted: "pool_exhausted"
        case .rateLimited: "rate_limited"
        case .otherServerSelected: "other_server_selected"
        case .noRecord: "no_record"
        case .replyTooLarge: "reply_too_large"
        case .proxyOnly: "proxy_only"
        }
    }
}

/// A lease change the caller must make durable before the reply leaves (an ACK), or may record
/// lazily (a release, a decline).
public struct DHCPLeaseChange: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        case bound, released, declined
    }

    public var kind: Kind
    public var lease: DHCPLease
}

/// The responder's answer to one request.
public enum DHCPVerdict: Equatable, Sendable {
    /// Send `length` bytes of the reply buffer to `destination`. When `change` is a bound
    /// lease, the reply must not leave before the change is durable (group commit).
    case reply(length: Int, destination: DHCPDestination, type: DHCPMessageType, change: DHCPLeaseChange?)
    /// Nothing to send, but state changed (RELEASE, DECLINE).
    case noReply(change: DHCPLeaseChange?)
    case drop(DHCPDropReason)
}
