/// What the rack did with an address, as of `LeaseRecord.expiresAt`.
public enum LeaseState: UInt8, Sendable, CaseIterable {
    /// ACKed to a client until `expiresAt`.
    case bound = 1
    /// The client sent RELEASE.
    case released = 2
    /// The client sent DECLINE: the address is quarantined until `expiresAt`.
    case declined = 3
    /// The lease ran out and was reclaimed.
    case expired = 4
}

/// One entry of the lease journal: the latest thing that happened to one address.
public struct LeaseRecord: Equatable, Sendable {
    /// IPv4 address in host order (198.18.0.100 is 0xC612_0064).
    public var address: UInt32
    /// Client hardware address, the low 48 bits.
    public var mac: UInt64
    /// DHCP option 61 as the client sent it, at most 255 bytes; empty when absent.
    public var clientID: [UInt8]
    /// Host name (option 12 or the reservation's), at most 255 bytes; may be empty.
    public var hostname: [UInt8]
    /// Unix seconds.
    public var expiresAt: UInt64
    public var state: LeaseState
    /// Assigned by `LeaseJournal.append`, strictly increasing across the journal's life
    /// (reopen and compaction included), so the region can drop a report it already holds.
    /// Whatever the caller puts here is replaced.
    public var sequence: UInt64

    public init(address: UInt32, mac: UInt64, clientID: [UInt8] = [], hostname: [UInt8] = [],
                expiresAt: UInt64, state: LeaseState, sequence: UInt64 = 0) {
        self.address = address
        self.mac = mac
        self.clientID = clientID
        self.hostname = hostname
        self.expiresAt = expiresAt
        self.state = state
        self.sequence = sequence
    }
}
