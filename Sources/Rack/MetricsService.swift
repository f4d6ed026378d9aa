import Engine
import Glibc
import Responders
import Wire

/// Prometheus text exposition on `/metrics` (and `/healthz`), served on the ring's own TCP
/// listener: a tiny HTTP/1.1 responder; the body is rendered per scrape, off the hot path.
final class MetricsService: RackService {
    private var listener: SocketID?
    private var outgoing: [ConnectionID: [UInt8]] = [:]
    private var received: [ConnectionID: [UInt8]] = [:]
    /// Renders the text; set by the rack once the engine exists (its counters are part of it).
    var render: () -> String = { "" }

    let port: UInt16

    init(port: UInt16) { self.port = port }

    func start(ring: RingContext, services: ServiceRegistry) throws {
        let listener = try ring.listenTCP(TCPListenerOptions(bind: .any(port: port), idleTimeoutMilliseconds: 10_000))
        self.listener = listener
        services.register(listener, for: self)
    }

    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {
        received[connection, default: []].append(contentsOf: bytes)
        let head = received[connection]!
        let result = head.withUnsafeBytes { try? HTTPRequestHead.parse($0) }
        switch result {
        case .complete(let request):
            let target = String(decoding: request.target, as: UTF8.self)
            received[connection] = nil
            let (status, body): (String, String) = switch target {
            case "/metrics": ("200 OK", render())
            case "/healthz": ("200 OK", "ok\n")
            default: ("404 Not Found", "not found\n")
            }
            let response = "HTTP/1.1 \(status)\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            outgoing[connection] = Array(response.utf8)
            sendNext(connection, ring: ring)
        case .incomplete where head.count < 8192:
            break
        default:
            received[connection] = nil
            ring.close(connection)
        }
    }

    func sendCompleted(on connection: ConnectionID, ring: RingContext) { sendNext(connection, ring: ring) }

    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {
        outgoing[connection] = nil
        received[connection] = nil
    }

    /// One slot at a time until the response is out, then close (Connection: close).
    private func sendNext(_ connection: ConnectionID, ring: RingContext) {
        guard var remaining = outgoing[connection], !remaining.isEmpty else {
            outgoing[connection] = nil
            ring.close(connection)
            return
        }
        guard let slot = ring.allocateSlot() else { return ring.close(connection) }
        let n = min(slot.buffer.count, remaining.count)
        remaining.withUnsafeBytes { slot.buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        remaining.removeFirst(n)
        outgoing[connection] = remaining
        ring.send(slot, length: n, on: connection)
    }
}

/// The metrics text: DHCP by message type and drop reason, pool use, journal and engine
/// counters.
enum MetricsText {
    static let typeNames = ["none", "discover", "offer", "request", "decline", "ack", "nak", "release", "inform",
                            "forcerenew", "leasequery", "leaseunassigned", "leaseunknown", "leaseactive",
                            "bulkleasequery", "leasequerydone", "activeleasequery", "leasequerystatus", "tls"]

    static func render(dhcp: DHCPService?, tables: TableStore, engine: [RingCounters]) -> String {
        var out = ""
        func metric(_ name: String, _ help: String, _ type: String = "counter") {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        metric("rackplane_tables_generation", "Generation of the table snapshot in service.", "gauge")
        out += "rackplane_tables_generation \(tables.generation)\n"
        if let dhcp {
            let counters = dhcp.server.counters
            metric("rackplane_dhcp_received_total", "DHCP requests received, by message type.")
            for (i, n) in counters.received.enumerated() where n > 0 { out += "rackplane_dhcp_received_total{type=\"\(typeNames[i])\"} \(n)\n" }
            metric("rackplane_dhcp_sent_total", "DHCP replies sent, by message type.")
            for (i, n) in counters.sent.enumerated() where n > 0 { out += "rackplane_dhcp_sent_total{type=\"\(typeNames[i])\"} \(n)\n" }
            metric("rackplane_dhcp_dropped_total", "DHCP requests dropped, by reason.")
            for reason in DHCPDropReason.allCases {
                out += "rackplane_dhcp_dropped_total{reason=\"\(reason.name)\"} \(counters.dropped[reason.rawValue])\n"
            }
            metric("rackplane_dhcp_leases", "Leases held, by state.", "gauge")
            let all = dhcp.server.leases.all
            out += "rackplane_dhcp_leases{state=\"bound\"} \(all.filter { $0.state == .bound }.count)\n"
            out += "rackplane_dhcp_leases{state=\"offered\"} \(all.filter { $0.state == .offered }.count)\n"
            metric("rackplane_dhcp_pool_addresses", "Addresses in dynamic pools, by subnet.", "gauge")
            metric("rackplane_dhcp_pool_used", "Pool addresses held by a lease or offer, by subnet.", "gauge")
            let snapshot = tables.snapshot
            for i in 0..<snapshot.subnetCount {
                let subnet = snapshot.subnet(i)
                let label = "subnet=\"\(subnet.network)/\(subnet.prefixLength)\""
                let size = subnet.ranges.filter(\.isPool).reduce(UInt64(0)) { $0 + UInt64($1.size) }
                let used = all.filter { subnet.isInPool($0.address) }.count
                out += "rackplane_dhcp_pool_addresses{\(label)} \(size)\nrackplane_dhcp_pool_used{\(label)} \(used)\n"
            }
            metric("rackplane_lease_journal_syncs_total", "fdatasync calls of the lease journal (one per batch with leases).")
            out += "rackplane_lease_journal_syncs_total \(dhcp.journal.syncCount)\n"
            metric("rackplane_dhcp_durability_failures_total", "ACKs withheld because the journal could not commit.")
            out += "rackplane_dhcp_durability_failures_total \(dhcp.durabilityFailures)\n"
        }
        for (name, _) in engine.first?.all ?? [] {
            metric("rackplane_engine_\(name)_total", "Engine counter \(name), by ring.")
            for (ring, counters) in engine.enumerated() {
                let value = counters.all.first { $0.0 == name }?.1 ?? 0
                out += "rackplane_engine_\(name)_total{ring=\"\(ring)\"} \(value)\n"
            }
        }
        return out
    }
}
