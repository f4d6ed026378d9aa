import Tables
import Wire

/// Who a lease belongs to: the client identifier (option 61) when the client sent one, else
/// its hardware address (RFC 2131 §4.2: "the combination of 'client identifier' or 'chaddr'
/// and assigned network address" identifies a lease).
public struct DHCPClientKey: Hashable, Sendable {
    let hash: UInt64
    let mac: UInt64
    let identified: Bool

    public init(mac: MACAddress, clientID: UnsafeRawBufferPointer?) {
        if let clientID, !clientID.isEmpty {
            hash = TableHash.bytes(clientID)
            identified = true
        } else {
            hash = mac.value
            identified = false
        }
        self.mac = mac.value
    }
}

/// A dynamic (or reserved) address held by a client.
public struct DHCPLease: Equatable, Sendable {
    public enum State: UInt8, Sendable {
        /// Offered, not yet requested: held briefly so two clients are not offered one address.
        case offered
        /// Acknowledged: the client may use it until `expiresAt`.
        case bound
    }

    public var address: IPv4Address
    public var mac: MACAddress
    public var client: DHCPClientKey
    public var state: State
    /// Unix seconds (wall clock, so bound leases survive restarts through the journal).
    public var expiresAt: UInt64
    public var hostname: [UInt8]
    /// Option 61 as the client sent it (empty if it sent none): journaled with the lease, so a
    /// restarted rack still knows whose lease it is (`client` is only its hash).
    public var clientID: [UInt8]

    public init(address: IPv4Address, mac: MACAddress, client: DHCPClientKey, state: State, expiresAt: UInt64,
                hostname: [UInt8], clientID: [UInt8] = []) {
        self.address = address
        self.mac = mac
        self.client = client
        self.state = state
        self.expiresAt = expiresAt
        self.hostname = hostname
        self.clientID = clientID
    }
}

/// The rack's lease state for dynamic pools: which address each client holds, which are
/// quarantined after a DECLINE, and where to look next for a free one. Lives on the DHCP ring;
/// no locks. Dictionaries are sized up front from the pools, so the steady state does not grow
/// them.
public final class DHCPLeaseTable {
    private(set) var byAddress: [IPv4Address: DHCPLease] = [:]
    private var byClient: [DHCPClientKey: IPv4Address] = [:]
    /// Declined addresses and when their quarantine ends (Unix seconds).
    private var quarantine: [IPv4Address: UInt64] = [:]
    /// Per pool (by its start address): where the next search starts, so allocation is a short
    /// scan rather than a walk from the pool's beginning each time.
    private var cursors: [IPv4Address: UInt32] = [:]

    /// How long an offer holds an address without a REQUEST.
    public var offerHoldSeconds: UInt64 = 30

    public init(expectedLeases: Int = 1024) {
        byAddress.reserveCapacity(expectedLeases)
        byClient.reserveCapacity(expectedLeases)
    }

    public var count: Int { byAddress.count }

    public func lease(for client: DHCPClientKey) -> DHCPLease? {
        guard let address = byClient[client] else { return nil }
        return byAddress[address]
    }

    public func lease(at address: IPv4Address) -> DHCPLease? { byAddress[address] }

    /// Whether `address` is free for `client` at `now` (Unix seconds): not held by anyone else
    /// (an expired lease or offer does not count), not quarantined.
    public func isFree(_ address: IPv4Address, for client: DHCPClientKey, now: UInt64) -> Bool {
        if let until = quarantine[address] {
            if until > now { return false }
            quarantine[address] = nil
        }
        guard let holder = byAddress[address] else { return true }
        return holder.client == client || holder.expiresAt <= now
    }

    /// Rises whenever the set of bound leases with a host name may have changed: the rack then
    /// republishes their DNS names (a counter, so the DHCP path pays an increment).
    public private(set) var nameChanges: UInt64 = 0

    /// Records an offer or a bound lease, replacing whatever the client held before.
    public func record(_ lease: DHCPLease) {
        if lease.state == .bound, !lease.hostname.isEmpty, byAddress[lease.address]?.hostname != lease.hostname
            || byAddress[lease.address]?.state != .bound {
            nameChanges &+= 1
        }
        if let previous = byClient[lease.client], previous != lease.address, byAddress[previous]?.client == lease.client {
            byAddress[previous] = nil
        }
        if let holder = byAddress[lease.address], holder.client != lease.client, byClient[holder.client] == lease.address {
            byClient[holder.client] = nil
        }
        byAddress[lease.address] = lease
        byClient[lease.client] = lease.address
    }

    /// Frees the client's address (RELEASE, or an offer the client declined by choosing
    /// another server). Returns the lease that was removed.
    @discardableResult
    public func release(_ client: DHCPClientKey, address: IPv4Address? = nil) -> DHCPLease? {
        guard let held = byClient[client], address == nil || address == held, let lease = byAddress[held] else { return nil }
        if !lease.hostname.isEmpty { nameChanges &+= 1 }
        byAddress[held] = nil
        byClient[client] = nil
        return lease
    }

    /// Marks an address another host is using (DECLINE): no one gets it until `until`.
    public func quarantine(_ address: IPv4Address, until: UInt64) {
        if let lease = byAddress[address] {
            byClient[lease.client] = nil
            byAddress[address] = nil
        }
        quarantine[address] = until
    }

    public func isQuarantined(_ address: IPv4Address, now: UInt64) -> Bool { (quarantine[address] ?? 0) > now }

    /// The next free address of `pool` for `client`, skipping the subnet's reserved ranges, or
    /// nil when the pool is full. (Machines' static addresses never lie in a pool outside a
    /// reserved range: snapshot validation refuses that.)
    public func allocate(from pool: RangeView, in subnet: SubnetView, for client: DHCPClientKey, now: UInt64) -> IPv4Address? {
        let size = pool.size
        var offset = cursors[pool.start] ?? 0
        if offset >= size { offset = 0 }
        for _ in 0..<size {
            let candidate = IPv4Address(pool.start.value &+ offset)
            offset = offset + 1 == size ? 0 : offset + 1
            // Network and broadcast addresses are never handed out, whatever the pool says.
            if candidate == subnet.network || candidate == subnet.broadcast { continue }
            if subnet.isReserved(candidate) { continue }
            if isFree(candidate, for: client, now: now) {
                cursors[pool.start] = offset
                return candidate
            }
        }
        return nil
    }

    /// Loads bound leases recovered from the journal at start.
    public func restore(_ lease: DHCPLease) { record(lease) }

    /// Drops expired offers and leases (called now and then, off the per-packet path).
    public func expire(now: UInt64) -> Int {
        let expired = byAddress.filter { $0.value.expiresAt <= now }
        for (address, lease) in expired {
            if !lease.hostname.isEmpty { nameChanges &+= 1 }
            byAddress[address] = nil
            if byClient[lease.client] == address { byClient[lease.client] = nil }
        }
        return expired.count
    }

    /// Every lease held (for metrics, the region report, tests).
    public var all: [DHCPLease] { Array(byAddress.values) }
}
