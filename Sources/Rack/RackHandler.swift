import Engine
import Glibc

/// What a rack ring runs: a dispatcher over the ring's services. Ring 0 carries DHCP (its lease
/// state then lives in one place with no locks; a ring handles far more DHCP than any peer
/// does) and the metrics endpoint; the file services (TFTP, image HTTP) run on every ring,
/// sharing their ports with SO_REUSEPORT.
final class RackHandler: RingHandler, @unchecked Sendable {
    let registry: ServiceRegistry
    private var connectionOwners: [ConnectionID: Int] = [:]
    private var listenerOwners: [SocketID: Int] = [:]

    init(services: [RackService], capacity: Int) {
        registry = ServiceRegistry(capacity: capacity)
        for service in services { _ = registry.add(service) }
    }

    func started(ring: RingContext) throws {
        for service in registry.services { try service.start(ring: ring, services: registry) }
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        registry.owner(of: datagram.socket)?.received(datagram, ring: ring)
    }

    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, listener: SocketID, ring: RingContext) {
        guard let owner = registry.owner(of: listener), let index = registry.services.firstIndex(where: { $0 === owner }) else {
            ring.close(connection)
            return
        }
        connectionOwners[connection] = index
        owner.accepted(connection, peer: peer, ring: ring)
    }

    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {
        guard let index = connectionOwners[connection] else { return }
        registry.services[index].received(bytes, on: connection, ring: ring)
    }

    func sendCompleted(on connection: ConnectionID, ring: RingContext) {
        guard let index = connectionOwners[connection] else { return }
        registry.services[index].sendCompleted(on: connection, ring: ring)
    }

    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {
        guard let index = connectionOwners.removeValue(forKey: connection) else { return }
        registry.services[index].closed(connection, reason: reason, ring: ring)
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
