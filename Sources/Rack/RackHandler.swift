import Engine
import Glibc

/// What a rack ring runs: a dispatcher over the ring's services. Ring 0 carries DHCP (its lease
/// state then lives in one place with no locks; a ring handles far more DHCP than any peer
/// does) and the metrics endpoint; the file services (TFTP, image HTTP) run on every ring,
/// sharing their ports with SO_REUSEPORT.
final class RackHandler: RingHandler, @unchecked Sendable {
    let registry: ServiceRegistry
    /// Owner service of each connection, by the connection's table index (-1: none): routing
    /// a received segment or a send completion is one load, no hashing.
    private var connectionOwners: [Int8] = []

    init(services: [RackService]) {
        registry = ServiceRegistry()
        for service in services { _ = registry.add(service) }
    }

    func started(ring: RingContext) throws {
        for service in registry.services { try service.start(ring: ring, services: registry) }
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        registry.owner(of: datagram.socket)?.received(datagram, ring: ring)
    }

    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, listener: SocketID, ring: RingContext) {
        let index = registry.ownerIndex(of: listener)
        guard index >= 0 else {
            ring.close(connection)
            return
        }
        connectionOwners.grow(toInclude: Int(connection.index), with: -1)
        connectionOwners[Int(connection.index)] = index
        registry.services[Int(index)].accepted(connection, peer: peer, ring: ring)
    }

    @inline(__always)
    private func owner(of connection: ConnectionID) -> RackService? {
        let i = Int(connection.index)
        // A connection refused in `accepted` before its entry existed is closed with no owner.
        guard i < connectionOwners.count else { return nil }
        let index = connectionOwners[i]
        return index < 0 ? nil : registry.services[Int(index)]
    }

    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {
        owner(of: connection)?.received(bytes, on: connection, ring: ring)
    }

    func sendCompleted(on connection: ConnectionID, ring: RingContext) {
        owner(of: connection)?.sendCompleted(on: connection, ring: ring)
    }

    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {
        guard let service = owner(of: connection) else { return }
        connectionOwners[Int(connection.index)] = -1
        service.closed(connection, reason: reason, ring: ring)
    }

    func timerFired(token: UInt64, ring: RingContext) {
        let index = Int(token >> 48)
        guard index < registry.services.count else { return }
        registry.services[index].timerFired(token: token & 0xFFFF_FFFF_FFFF, ring: ring)
    }

    func batchEnded(ring: RingContext) {
        for service in registry.services { service.batchEnded(ring: ring) }
    }
}
