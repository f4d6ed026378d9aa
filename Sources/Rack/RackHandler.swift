import Engine
import Glibc

/// What a rack ring runs. Ring 0 carries DHCP and the metrics endpoint: the lease state lives
/// in one place with no locks (DHCP at thousands of exchanges per second is far from a core's
/// limit); later services (TFTP, HTTP, DNS) spread over every ring with SO_REUSEPORT.
final class RackHandler: RingHandler, @unchecked Sendable {
    let dhcp: DHCPService?
    let metrics: MetricsService?
    let dhcpPort: UInt16
    let metricsAddress: UInt32
    let metricsPort: UInt16

    init(dhcp: DHCPService?, metrics: MetricsService?, dhcpPort: UInt16, metricsAddress: UInt32, metricsPort: UInt16) {
        self.dhcp = dhcp
        self.metrics = metrics
        self.dhcpPort = dhcpPort
        self.metricsAddress = metricsAddress
        self.metricsPort = metricsPort
    }

    func started(ring: RingContext) throws {
        try dhcp?.start(ring: ring, port: dhcpPort)
        try metrics?.start(ring: ring, address: metricsAddress, port: metricsPort)
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        dhcp?.received(datagram, ring: ring)
    }

    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {
        metrics?.received(bytes, on: connection, ring: ring)
    }

    func sendCompleted(on connection: ConnectionID, ring: RingContext) {
        metrics?.sendCompleted(on: connection, ring: ring)
    }

    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {
        metrics?.closed(connection)
    }

    func batchEnded(ring: RingContext) {
        dhcp?.batchEnded(ring: ring)
    }
}

/// Rings other than 0, until TFTP, HTTP and DNS run on them.
final class IdleRingHandler: RingHandler, @unchecked Sendable {
    func received(_ datagram: ReceivedDatagram, ring: RingContext) {}
}
