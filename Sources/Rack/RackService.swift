import Engine

/// One service of the rack (DHCP, TFTP, image HTTP, metrics, later DNS). The rack's ring
/// handler owns a list of them and routes each event to the service that owns the socket,
/// listener or connection; timers carry the service's index in their top byte.
protocol RackService: AnyObject {
    /// Opens the service's sockets and listeners on this ring.
    func start(ring: RingContext, services: ServiceRegistry) throws
    func received(_ datagram: ReceivedDatagram, ring: RingContext)
    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, ring: RingContext)
    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext)
    func sendCompleted(on connection: ConnectionID, ring: RingContext)
    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext)
    /// `token` without the routing byte.
    func timerFired(token: UInt64, ring: RingContext)
    func batchEnded(ring: RingContext)
}

extension RackService {
    func received(_ datagram: ReceivedDatagram, ring: RingContext) {}
    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, ring: RingContext) {}
    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {}
    func sendCompleted(on connection: ConnectionID, ring: RingContext) {}
    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {}
    func timerFired(token: UInt64, ring: RingContext) {}
    func batchEnded(ring: RingContext) {}
}

/// How a service tells the ring handler which sockets and listeners are its own, and how it
/// names its timers. Socket routing is an array indexed by the socket's table index, so
/// routing a datagram costs one load, however many ephemeral sockets TFTP has open.
final class ServiceRegistry {
    private var socketOwners: [Int8] = []
    private(set) var services: [RackService] = []

    func add(_ service: RackService) -> Int {
        services.append(service)
        return services.count - 1
    }


    private func index(of service: RackService) -> Int8? {
        services.firstIndex(where: { $0 === service }).map { Int8($0) }
    }

    /// Routes the socket's (or listener's) events to `service`.
    func register(_ socket: SocketID, for service: RackService) {
        guard let index = index(of: service) else { return }
        socketOwners.grow(toInclude: Int(socket.index), with: -1)
        socketOwners[Int(socket.index)] = index
    }

    func unregister(_ socket: SocketID) {
        guard Int(socket.index) < socketOwners.count else { return }
        socketOwners[Int(socket.index)] = -1
    }

    /// The index of the service owning a socket or listener, or -1.
    @inline(__always)
    func ownerIndex(of socket: SocketID) -> Int8 {
        Int(socket.index) < socketOwners.count ? socketOwners[Int(socket.index)] : -1
    }

    @inline(__always)
    func owner(of socket: SocketID) -> RackService? {
        let index = ownerIndex(of: socket)
        return index < 0 ? nil : services[Int(index)]
    }

    /// A timer token routed back to `service` (tokens keep their low 48 bits).
    func timerToken(_ token: UInt64, for service: RackService) -> UInt64 {
        precondition(token >> 48 == 0, "service timer tokens use 48 bits")
        return UInt64(index(of: service) ?? 0) << 48 | token
    }
}
