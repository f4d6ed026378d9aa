/// What the DHCP server saw and did; per-type and per-reason arrays, no dictionaries, so
/// counting costs an increment.
public struct DHCPCounters: Sendable {
    /// Requests received by message type (index = option 53 value, 0 = none/unknown).
    public var received = [UInt64](repeating: 0, count: 19)
    /// Replies sent by message type.
    public var sent = [UInt64](repeating: 0, count: 19)
    /// Drops by `DHCPDropReason.rawValue`.
    public var dropped = [UInt64](repeating: 0, count: DHCPDropReason.allCases.count)
    public var leasesBound: UInt64 = 0
    public var leasesReleased: UInt64 = 0
    public var addressesDeclined: UInt64 = 0

    public init() {}
}
