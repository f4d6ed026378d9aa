import Engine
import Glibc
import LeaseStore
import Responders
import Site
import Synchronization
import Tables
import Wire

/// DHCP on a ring: datagrams in, the responder's verdict out. ACKs that bind a lease wait at
/// the end of the batch until the journal has made every such lease durable with one
/// fdatasync (group commit); then they leave together. Everything else leaves at once.
public final class DHCPService: RackService {
    public let server: DHCPServer
    public let journal: LeaseJournal
    let tables: TableStore
    let log: RackLog
    let interface: NetworkInterface?
    /// Overrides IP_PKTINFO's local address as the server identifier (`--address`).
    let addressOverride: IPv4Address?
    private var snapshot: TableSnapshot
    private var generation: UInt64
    private var sockets: [SocketID] = []
    private var macByInterface: [Int32: MACAddress] = [:]
    private var linkLayerAllowed = true
    public private(set) var durabilityFailures: UInt64 = 0
    public private(set) var linkFallbacks: UInt64 = 0

    struct PendingReply {
        let slot: SendSlot
        let length: Int
        let destination: DHCPDestination
        let socket: SocketID
        let localAddress: IPv4Address
        let interfaceIndex: Int32
    }

    private var pending: [PendingReply] = []
    private var lastExpiry: UInt64 = 0
    /// Bound leases with host names, for DNS; republished from this ring when they change, at
    /// most every `leaseNamesInterval` ms, and recompiled into the zones by the rack.
    public let leaseNames = LeaseNamesBoard()
    /// How far the journal is durable, for the region link's lease reports.
    public let durableMark: JournalMark
    private var publishedNameChanges: UInt64 = 0
    private var lastNamePublish: UInt64 = 0
    static let leaseNamesInterval: UInt64 = 2000

    let port: UInt16
    /// Boot steps for the region (a connected rack only).
    var boots: BootRecorder?

    public init(tables: TableStore, journal: LeaseJournal, interface: NetworkInterface?, address: IPv4Address?, port: UInt16,
                durableMark: JournalMark = JournalMark(), log: RackLog) {
        self.port = port
        self.durableMark = durableMark
        self.tables = tables
        self.journal = journal
        self.interface = interface
        self.addressOverride = address
        self.log = log
        snapshot = tables.snapshot
        generation = snapshot.generation
        let leases = DHCPLeaseTable(expectedLeases: 4096)
        let now = UInt64(time(nil))
        var restored = 0
        for record in journal.leases.values where record.state == .bound && record.expiresAt > now {
            let mac = MACAddress(record.mac)
            let client = record.clientID.withUnsafeBytes { DHCPClientKey(mac: mac, clientID: $0.isEmpty ? nil : $0) }
            leases.restore(DHCPLease(address: IPv4Address(record.address), mac: mac, client: client, state: .bound,
                                     expiresAt: record.expiresAt, hostname: record.hostname, clientID: record.clientID))
            restored += 1
        }
        server = DHCPServer(leases: leases)
        pending.reserveCapacity(1024)
        for candidate in NetworkInterface.all() { macByInterface[candidate.index] = candidate.mac }
        log.info("dhcp: \(restored) leases restored from the journal")
    }

    /// How long a request may wait for company under load (`BatchingWindow`). Clients
    /// retransmit after seconds (RFC 2131 §4.1) and ACKs wait for the journal's group commit
    /// anyway: 2 ms cut the CPU per DORA by about 40 % at 3,000 a second (docs/benchmarks.md).
    static let waitBudgetMicroseconds: UInt32 = 2000

    /// Opens UDP 67 (and 4011 in proxyDHCP mode) on this ring.
    func start(ring: RingContext, services: ServiceRegistry) throws {
        registry = services
        let device = interface?.name
        var ports = [port]
        if snapshot.isProxyDHCP { ports.append(4011) }
        for port in ports {
            // A deep receive buffer (4 MiB) rides out a slow disk sync of the lease journal at
            // thousands of requests per second instead of dropping them in the kernel.
            let socket = try ring.openUDP(UDPSocketOptions(bind: .any(port: port), broadcast: true, device: device,
                                                           packetInfo: true, receiveBufferBytes: 4 << 20,
                                                           waitBudgetMicroseconds: Self.waitBudgetMicroseconds))
            sockets.append(socket)
            services.register(socket, for: self)
        }
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        guard let slot = ring.allocateSlot() else { return }
        let local = addressOverride ?? (datagram.localAddress != 0 ? IPv4Address(datagram.localAddress) : interface?.address ?? .any)
        let context = DHCPRequestContext(localAddress: local, destinationAddress: IPv4Address(datagram.destinationAddress),
                                         now: UInt64(time(nil)))
        let verdict = server.respond(to: datagram.payload, context: context, tables: snapshot, reply: slot.buffer)
        switch verdict {
        case .reply(let length, let destination, let type, let change):
            if type == .ack, let boots { recordBoot(UnsafeRawBufferPointer(rebasing: slot.buffer[0..<length]), to: boots) }
            let reply = PendingReply(slot: slot, length: length, destination: destination, socket: datagram.socket,
                                     localAddress: local, interfaceIndex: datagram.interfaceIndex)
            if let change, change.kind == .bound {
                _ = journal.append(record(change))
                pending.append(reply)
            } else {
                transmit(reply, ring: ring)
            }
        case .noReply(let change):
            ring.release(slot)
            if let change { _ = journal.append(record(change)) }
        case .drop:
            ring.release(slot)
        }
    }

    /// How long bound leases may wait for company before one fdatasync makes them all durable,
    /// and how many make a full group. An fdatasync costs ~90 µs of kernel CPU on a virtual
    /// disk whether it carries one lease or a hundred, while a client waits seconds for its
    /// ACK: a few milliseconds of gathering turn one sync per ACK into one per group.
    public var commitWindowMilliseconds: UInt64 = 4
    public var commitGroupSize = 64
    private var firstPendingAt: UInt64 = 0
    private var commitTimer: TimerID?
    private var registry: ServiceRegistry?

    /// The end of a batch: once the group is full or its window has passed, make its leases
    /// durable, then let their ACKs go; otherwise make sure a timer will come back for them.
    func batchEnded(ring: RingContext) {
        if !pending.isEmpty {
            if firstPendingAt == 0 { firstPendingAt = ring.now }
            if pending.count >= commitGroupSize || ring.now >= firstPendingAt + commitWindowMilliseconds {
                commitAndSend(ring: ring)
            } else if commitTimer == nil, let registry {
                let wait = firstPendingAt + commitWindowMilliseconds - ring.now
                commitTimer = ring.schedule(afterMilliseconds: wait, token: registry.timerToken(Self.commitToken, for: self))
            }
        } else if journal.pendingCount > 0 {
            // Releases and declines: durable when convenient, nobody waits on them.
            try? journal.commit()
        }
        if tables.generation != generation {
            snapshot = tables.snapshot
            generation = snapshot.generation
        }
        if journal.durableSequence != durableMark.value { durableMark.publish(journal.durableSequence) }
        if server.leases.nameChanges != publishedNameChanges, ring.now >= lastNamePublish + Self.leaseNamesInterval {
            publishedNameChanges = server.leases.nameChanges
            lastNamePublish = ring.now
            let wall = UInt64(time(nil))
            leaseNames.publish(server.leases.all.compactMap { lease in
                guard lease.state == .bound, !lease.hostname.isEmpty, lease.expiresAt > wall else { return nil }
                return SiteLeaseName(hostname: String(decoding: lease.hostname, as: UTF8.self), address: lease.address)
            })
        }
        let now = UInt64(time(nil))
        if now >= lastExpiry + 60 {
            lastExpiry = now
            _ = server.leases.expire(now: now)
            if journal.needsCompaction {
                do { try journal.compact() } catch { log.error("dhcp: journal compaction failed: \(error)") }
            }
        }
    }

    static let commitToken: UInt64 = 1

    func timerFired(token: UInt64, ring: RingContext) {
        guard token == Self.commitToken else { return }
        commitTimer = nil
        if !pending.isEmpty { commitAndSend(ring: ring) }
    }

    /// One write and one fdatasync for every pending lease, then their ACKs leave together.
    private func commitAndSend(ring: RingContext) {
        if let timer = commitTimer {
            ring.cancel(timer)
            commitTimer = nil
        }
        firstPendingAt = 0
        do {
            try journal.commit()
        } catch {
            // Not durable: the ACKs must not leave. Clients retry; the state is reported. The
            // journal's failure is sticky, so log the first one only (the counter says the rest).
            if durabilityFailures == 0 {
                log.error("dhcp: lease journal commit failed (\(error)); ACKs are withheld until it recovers")
            }
            durabilityFailures &+= UInt64(pending.count)
            for reply in pending { ring.release(reply.slot) }
            pending.removeAll(keepingCapacity: true)
            return
        }
        for reply in pending { transmit(reply, ring: ring) }
        pending.removeAll(keepingCapacity: true)
    }

    /// An ACK that names a boot file starts a machine's boot history: its MAC, the address it
    /// was given and the file, read back from the reply just written.
    private func recordBoot(_ reply: UnsafeRawBufferPointer, to boots: BootRecorder) {
        let yiaddr = IPv4Address(bytes: reply, at: DHCPLayout.yiaddr)
        let address = (yiaddr.isUnspecified ? IPv4Address(bytes: reply, at: DHCPLayout.ciaddr) : yiaddr).value
        let mac = MACAddress(bytes: reply, at: DHCPLayout.chaddr).value
        _ = Self.withBootFile(inReply: reply) { file in
            boots.record(.dhcp, address: address, mac: mac, name: file, outcome: "ack", bytes: 0)
        }
    }

    /// Calls `body` with the boot file a reply this server wrote names: the BOOTP `file` field,
    /// or option 67 alone when the name is longer than the field's 128 bytes (a UEFI HTTP boot
    /// URL). Nil if the reply names none (or does not parse).
    static func withBootFile<R>(inReply reply: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard let message = try? DHCPMessage(parsing: reply) else { return nil }
        if let field = message.file {
            let name = UnsafeRawBufferPointer(rebasing: field.prefix { $0 != 0 })
            if !name.isEmpty { return body(name) }
        }
        return message.withOption(DHCPOptionCode.bootfileName) { $0.isEmpty ? nil : body($0) } ?? nil
    }

    private func record(_ change: DHCPLeaseChange) -> LeaseRecord {
        let state: LeaseState = switch change.kind {
        case .bound: .bound
        case .released: .released
        case .declined: .declined
        }
        return LeaseRecord(address: change.lease.address.value, mac: change.lease.mac.value,
                           clientID: change.lease.clientID, hostname: change.lease.hostname,
                           expiresAt: change.lease.expiresAt, state: state, sequence: 0)
    }

    /// Sends a reply where RFC 2131 §4.1 says (the responder decided; this maps it to sockets).
    private func transmit(_ reply: PendingReply, ring: RingContext) {
        switch reply.destination {
        case .relay(let agent):
            ring.send(reply.slot, length: reply.length, on: reply.socket, to: IPv4Endpoint(address: agent.value, port: 67),
                      from: reply.localAddress.value)
        case .unicast(let client):
            ring.send(reply.slot, length: reply.length, on: reply.socket, to: IPv4Endpoint(address: client.value, port: 68),
                      from: reply.localAddress.value)
        case .broadcast:
            broadcast(reply, ring: ring)
        case .link(let mac, let address):
            if linkLayerAllowed, sendFrame(reply, to: mac, at: address, ring: ring) { return }
            broadcast(reply, ring: ring)
        }
    }

    private func broadcast(_ reply: PendingReply, ring: RingContext) {
        ring.send(reply.slot, length: reply.length, on: reply.socket,
                  to: IPv4Endpoint(address: IPv4Endpoint.limitedBroadcast, port: 68),
                  from: reply.localAddress.value, interfaceIndex: reply.interfaceIndex)
    }

    /// Unicast to a client without an address: a whole Ethernet frame through AF_PACKET
    /// (docs/engine.md says why not ARP-table injection). Without CAP_NET_RAW the first
    /// failure switches to broadcast for good, which every client also accepts.
    private func sendFrame(_ reply: PendingReply, to mac: MACAddress, at address: IPv4Address, ring: RingContext) -> Bool {
        guard let source = macByInterface[reply.interfaceIndex] ?? interface?.mac, let frame = ring.allocateSlot() else { return false }
        let payload = UnsafeRawBufferPointer(rebasing: reply.slot.buffer[0..<reply.length])
        do {
            let length = try UDPFrame.write(into: frame.buffer, sourceMAC: source, destinationMAC: mac,
                                            source: reply.localAddress, destination: address,
                                            sourcePort: 67, destinationPort: 68, payload: payload)
            try ring.sendFrame(frame, length: length, interfaceIndex: reply.interfaceIndex, destinationMAC: mac.value)
            ring.release(reply.slot)
            return true
        } catch let error as SystemError {
            linkLayerAllowed = false
            linkFallbacks &+= 1
            log.warning("dhcp: cannot send link-layer replies (\(error)); broadcasting instead")
            return false
        } catch {
            ring.release(frame)
            return false
        }
    }
}

/// The named leases the DHCP ring last published, handed to the thread that compiles tables.
public final class LeaseNamesBoard: Sendable {
    private let state = Mutex<(version: UInt64, names: [SiteLeaseName])>((0, []))

    public init() {}

    func publish(_ names: [SiteLeaseName]) {
        state.withLock { $0 = ($0.version + 1, names) }
    }

    public var current: (version: UInt64, names: [SiteLeaseName]) { state.withLock { $0 } }
}
