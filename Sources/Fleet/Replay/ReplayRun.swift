import CLinuxShims
import Glibc
import Histogram
import Wire

/// What `rackplane pcap replay` was asked to do.
public struct ReplayPlan: Sendable {
    public var server: IPv4Address
    /// Replays are relayed: giaddr, and the address the server's DHCP replies come back to.
    public var relayAddress: IPv4Address
    /// How many copies of the capture's clients run (each with its own MACs and xids).
    public var copies = 1
    /// Copies in flight at once.
    public var concurrency = 64
    /// Seconds to wait for the answer to one request (retransmitting every second).
    public var timeout = 5.0
    /// Seconds after which the whole replay stops.
    public var duration = 300.0
    /// The first replayed client's MAC; copy c's j-th distinct MAC is this plus c × (distinct
    /// MACs in the capture) + j.
    public var firstMAC = MACAddress(0x02_10_00_00_00_01)
    public var dhcpPort: UInt16 = 67
    public var tftpPort: UInt16 = 69
    public var dnsPort: UInt16 = 53
    public var httpPort: UInt16 = 5248

    public init(server: IPv4Address, relayAddress: IPv4Address) {
        self.server = server
        self.relayAddress = relayAddress
    }
}

/// How one replayed request fared.
public enum ReplayResult: Sendable, Equatable {
    /// The server answered as a server should.
    case answered
    /// It answered with a refusal (NAK, TFTP ERROR, an HTTP error status, a DNS error RCODE):
    /// still an answer.
    case refused(String)
    /// No answer within the timeout.
    case unanswered(String)
    /// A message that gets no reply (DHCP RELEASE, DECLINE).
    case noReplyExpected
}

/// Counts per protocol, and every request that was not plainly answered.
public struct ReplayStatistics: Sendable {
    public struct PerProtocol: Sendable {
        public var sent = 0
        public var answered = 0
        public var refused = 0
        public var unanswered = 0
        public var noReplyExpected = 0
        /// Microseconds from the request to its answer.
        public var latency = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    }

    public struct Problem: Sendable {
        public let copy: Int
        public let frame: Int
        public let proto: ReplayProtocol
        public let summary: String
        public let result: ReplayResult
    }

    public var protocols: [ReplayProtocol: PerProtocol] = Dictionary(uniqueKeysWithValues: ReplayProtocol.allCases.map { ($0, PerProtocol()) })
    /// Unanswered and refused requests, in the order they happened.
    public var problems: [Problem] = []
    public var copies = 0
    public var completedCopies = 0
    public var wallSeconds = 0.0
    public var stoppedBy: String?

    public var sent: Int { protocols.values.reduce(0) { $0 + $1.sent } }
    public var unanswered: Int { protocols.values.reduce(0) { $0 + $1.unanswered } }
    public var answered: Int { protocols.values.reduce(0) { $0 + $1.answered + $1.refused } }
}

/// Re-sends the client side of a capture to a server, copy by copy, each copy's requests in
/// capture order with every request waiting for its answer (or the timeout) before the next —
/// the way the captured client waited. DHCP conversations are rewritten to hold together
/// against the new server (`DHCPReplayRewrite`); TFTP reads and HTTP GETs are carried through
/// to the end of the file, so a replay loads the server as the capture's boot did.
public final class ReplayRun {
    public let plan: ReplayPlan
    public let requests: [CapturedRequest]
    private let poll: EventPoll
    private let dhcpSocket: Int32
    private var sessions: [ReplaySession] = []
    private var timers: DeadlineQueue
    private var due: [Int] = []
    private var byXID: [UInt32: Int] = [:]
    private var statistics = ReplayStatistics()
    private var inFlight = 0
    private var leasedSourceWorks: Bool?
    private let distinctMACs: [MACAddress]
    private let sendBuffer: UnsafeMutableRawBufferPointer
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    private static let second: UInt64 = 1_000_000_000
    private static let dhcpToken: UInt64 = 0

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(plan: ReplayPlan, requests: [CapturedRequest]) throws(SetupError) {
        self.plan = plan
        self.requests = requests
        var macs: [MACAddress] = []
        for request in requests { if let mac = request.clientMAC, !macs.contains(mac) { macs.append(mac) } }
        distinctMACs = macs
        do {
            poll = try EventPoll()
            dhcpSocket = try FleetSystem.udpSocket(bind: plan.relayAddress, port: 67, receiveBuffer: 4 << 20)
            try poll.add(dhcpSocket, token: Self.dhcpToken, events: EventPoll.readable)
        } catch {
            let hint = error.errno == EADDRNOTAVAIL ? " (is the relay address configured on this host?)"
                : error.errno == EADDRINUSE ? " (another DHCP client, relay or server holds the port)" : ""
            throw SetupError(description: "\(error)\(hint)")
        }
        timers = DeadlineQueue(slots: plan.copies)
        sendBuffer = .allocate(byteCount: 65536, alignment: 16)
        receiveBuffer = .allocate(byteCount: 65536, alignment: 16)
        for copy in 0..<plan.copies {
            var map: [MACAddress: MACAddress] = [:]
            for (j, mac) in macs.enumerated() {
                map[mac] = MACAddress(plan.firstMAC.value &+ UInt64(copy * macs.count + j))
            }
            sessions.append(ReplaySession(copy: copy, macs: map))
        }
        statistics.copies = plan.copies
    }

    deinit {
        for session in sessions where session.descriptor >= 0 { close(session.descriptor) }
        close(dhcpSocket)
        sendBuffer.deallocate()
        receiveBuffer.deallocate()
    }

    public func run(shouldStop: () -> Bool) -> ReplayStatistics {
        let start = FleetSystem.now()
        let end = start + UInt64(plan.duration * Double(Self.second))
        var next = 0
        while true {
            let now = FleetSystem.now()
            if shouldStop() || now >= end {
                statistics.stoppedBy = now >= end ? "deadline (--duration \(plan.duration) s)" : "interrupted"
                for session in sessions where session.active { finishCurrent(session, .unanswered("replay stopped"), now: now, advance: false) }
                break
            }
            while next < sessions.count, inFlight < plan.concurrency {
                let session = sessions[next]
                next += 1
                inFlight += 1
                session.active = true
                startCurrent(session, now: now)
            }
            due.removeAll(keepingCapacity: true)
            timers.expired(now: now, into: &due)
            for index in due { timerFired(sessions[index], now: now) }
            if next == sessions.count, inFlight == 0 { break }
            var wakeAt = now + Self.second / 10
            if let earliest = timers.earliest { wakeAt = min(wakeAt, earliest) }
            let later = FleetSystem.now()
            let milliseconds = wakeAt > later ? Int32((wakeAt - later + 999_999) / 1_000_000) : 0
            poll.wait(milliseconds: milliseconds) { token, _ in self.handle(token: token) }
        }
        statistics.wallSeconds = Double(FleetSystem.now() - start) / Double(Self.second)
        return statistics
    }

    // MARK: Requests in order

    /// Sends the session's current request, or ends the session after its last.
    private func startCurrent(_ session: ReplaySession, now: UInt64) {
        guard session.position < requests.count else {
            session.active = false
            inFlight -= 1
            statistics.completedCopies += 1
            closeDescriptor(session)
            timers.schedule(session.copy, at: 0)
            return
        }
        let request = requests[session.position]
        statistics.protocols[request.proto]!.sent += 1
        session.sentAt = now
        session.answered = false
        session.retries = 0
        session.lastProgressAt = now
        switch request.proto {
        case .dhcp: startDHCP(session, request, now: now)
        case .tftp: startTFTP(session, request, now: now)
        case .dns: startDNS(session, request, now: now)
        case .http: startHTTP(session, request, now: now)
        }
    }

    /// Records how the current request fared and moves on to the next.
    private func finishCurrent(_ session: ReplaySession, _ result: ReplayResult, now: UInt64, advance: Bool = true) {
        let request = requests[session.position]
        var counts = statistics.protocols[request.proto]!
        switch result {
        case .answered:
            counts.answered += 1
        case .refused:
            counts.refused += 1
        case .unanswered:
            counts.unanswered += 1
        case .noReplyExpected:
            counts.noReplyExpected += 1
        }
        statistics.protocols[request.proto] = counts
        switch result {
        case .refused, .unanswered:
            statistics.problems.append(.init(copy: session.copy, frame: request.frame, proto: request.proto, summary: request.summary, result: result))
        default:
            break
        }
        if let xid = session.xid { byXID[xid] = nil }
        session.xid = nil
        session.tftp = nil
        session.http = nil
        closeDescriptor(session)
        guard advance else {
            session.active = false
            inFlight -= 1
            return
        }
        session.position += 1
        startCurrent(session, now: now)
    }

    /// The first answer to the current request: its latency is recorded once.
    private func noteAnswer(_ session: ReplaySession, now: UInt64) {
        guard !session.answered else { return }
        session.answered = true
        _ = statistics.protocols[requests[session.position].proto]!.latency.record(max(1, (now - session.sentAt) / 1000))
    }

    private func timerFired(_ session: ReplaySession, now: UInt64) {
        guard session.active, session.position < requests.count else { return }
        let request = requests[session.position]
        let timeout = UInt64(plan.timeout * Double(Self.second))
        if !session.answered, now - session.sentAt >= timeout {
            finishCurrent(session, .unanswered("no answer in \(plan.timeout) s"), now: now)
            return
        }
        if session.answered, now - session.lastProgressAt >= timeout {
            finishCurrent(session, .refused("stalled after the answer"), now: now)
            return
        }
        session.retries += 1
        switch request.proto {
        case .dhcp, .dns:
            sendDatagram(session, request)
        case .tftp:
            if let length = try? session.tftp?.writeRetransmission(into: sendBuffer) {
                FleetSystem.send(session.descriptor, UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]), to: plan.server,
                                 port: session.tftp?.serverPort ?? plan.tftpPort)
            }
        case .http:
            break
        }
        timers.schedule(session.copy, at: now + Self.second)
    }

    private func handle(token: UInt64) {
        let now = FleetSystem.now()
        if token == Self.dhcpToken {
            receiveDHCP(now: now)
            return
        }
        let index = Int(token & 0xFFFF_FFFF) - 1
        guard index >= 0, index < sessions.count else { return }
        let session = sessions[index]
        guard session.active, session.descriptor >= 0, UInt32(token >> 32) == session.descriptorGeneration,
              session.position < requests.count else { return }
        switch requests[session.position].proto {
        case .dhcp: return
        case .tftp: receiveTFTP(session, now: now)
        case .dns: receiveDNS(session, now: now)
        case .http: driveHTTP(session, now: now)
        }
    }

    // MARK: Sockets

    private func token(_ session: ReplaySession) -> UInt64 {
        UInt64(session.descriptorGeneration) << 32 | UInt64(session.copy + 1)
    }

    private func closeDescriptor(_ session: ReplaySession) {
        guard session.descriptor >= 0 else { return }
        close(session.descriptor)
        session.descriptor = -1
    }

    private func openUDP(_ session: ReplaySession) -> Bool {
        closeDescriptor(session)
        var fd: Int32 = -1
        if leasedSourceWorks != false, let address = session.lastAddress {
            do {
                fd = try FleetSystem.udpSocket(bind: address, port: 0)
                leasedSourceWorks = true
            } catch {
                leasedSourceWorks = false
            }
        }
        if fd < 0 { fd = (try? FleetSystem.udpSocket(bind: .any, port: 0)) ?? -1 }
        guard fd >= 0 else { return false }
        session.descriptor = fd
        session.descriptorGeneration &+= 1
        return (try? poll.add(fd, token: token(session), events: EventPoll.readable)) != nil
    }

    private func sendDatagram(_ session: ReplaySession, _ request: CapturedRequest) {
        guard session.outgoing.count > 0 else { return }
        session.outgoing.withUnsafeBytes { bytes in
            switch request.proto {
            case .dhcp: FleetSystem.send(dhcpSocket, bytes, to: plan.server, port: plan.dhcpPort)
            case .dns: FleetSystem.send(session.descriptor, bytes, to: plan.server, port: plan.dnsPort)
            default: break
            }
        }
    }

    // MARK: DHCP

    private func startDHCP(_ session: ReplaySession, _ request: CapturedRequest, now: UInt64) {
        let original = request.bytes
        let written: Int? = original.withUnsafeBytes { raw in
            guard let message = try? DHCPMessage(parsing: raw), let mac = message.clientMAC, let mapped = session.macs[mac] else { return nil }
            var xid = session.xids[message.xid] ?? 0
            if xid == 0 {
                repeat { xid = UInt32.random(in: 1...UInt32.max) } while xid == 0 || byXID[xid] != nil
                session.xids[message.xid] = xid
            }
            session.xid = xid
            session.expectsReply = message.messageType != .release && message.messageType != .decline
            session.currentMAC = mac
            let state = session.dhcp[mac]
            let rewrite = DHCPReplayRewrite(originalMAC: mac, mac: mapped, xid: xid, relayAddress: plan.relayAddress,
                                           serverIdentifier: state?.serverIdentifier, address: state?.address)
            return try? rewrite.write(message, into: sendBuffer)
        }
        guard let written, let xid = session.xid else {
            finishCurrent(session, .unanswered("the captured message cannot be rewritten"), now: now)
            return
        }
        session.outgoing = Array(UnsafeRawBufferPointer(rebasing: sendBuffer[0..<written]))
        byXID[xid] = session.copy
        sendDatagram(session, request)
        guard session.expectsReply else {
            finishCurrent(session, .noReplyExpected, now: now)
            return
        }
        timers.schedule(session.copy, at: now + Self.second)
    }

    private func receiveDHCP(now: UInt64) {
        for _ in 0..<256 {
            guard let (count, _, _) = FleetSystem.receive(dhcpSocket, into: receiveBuffer) else { return }
            guard let message = try? DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count])),
                  message.op == 2, let index = byXID[message.xid] else { continue }
            let session = sessions[index]
            guard session.active, session.xid == message.xid, let mac = session.currentMAC,
                  message.clientMAC == session.macs[mac] else { continue }
            noteAnswer(session, now: now)
            var state = session.dhcp[mac] ?? ReplaySession.DHCPState()
            if let server = (try? message.serverIdentifier()) ?? nil { state.serverIdentifier = server }
            if !message.yiaddr.isUnspecified {
                state.address = message.yiaddr
                if message.messageType == .ack { session.lastAddress = message.yiaddr }
            }
            session.dhcp[mac] = state
            if message.messageType == .nak {
                let text = message.withOption(DHCPOptionCode.message) { String(decoding: $0, as: UTF8.self) } ?? ""
                finishCurrent(session, .refused("NAK\(text.isEmpty ? "" : ": " + text)"), now: now)
            } else {
                finishCurrent(session, .answered, now: now)
            }
        }
    }

    // MARK: TFTP

    private func startTFTP(_ session: ReplaySession, _ request: CapturedRequest, now: UInt64) {
        let transfer: TFTPClientTransfer? = request.bytes.withUnsafeBytes { raw in
            guard case .readRequest(let rrq)? = try? TFTPPacket.parse(raw) else { return nil }
            let values = (try? rrq.options.values()) ?? TFTPOptionValues()
            var name = String(decoding: rrq.filename, as: UTF8.self)
            if let mac = session.currentMAC ?? session.macs.keys.first, let mapped = session.macs[mac] {
                name = DHCPReplayRewrite(originalMAC: mac, mac: mapped, xid: 0, relayAddress: .any).remapMAC(in: name)
            }
            return TFTPClientTransfer(filename: name, blockSize: values.blockSize, askSize: values.transferSize != nil)
        }
        guard let transfer, openUDP(session), let length = try? transfer.writeRequest(into: sendBuffer) else {
            finishCurrent(session, .unanswered("the request cannot be sent"), now: now)
            return
        }
        session.tftp = transfer
        FleetSystem.send(session.descriptor, UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]), to: plan.server, port: plan.tftpPort)
        timers.schedule(session.copy, at: now + Self.second)
    }

    private func receiveTFTP(_ session: ReplaySession, now: UInt64) {
        for _ in 0..<64 {
            guard session.tftp != nil, session.descriptor >= 0 else { return }
            guard let (count, address, port) = FleetSystem.receive(session.descriptor, into: receiveBuffer) else { return }
            guard address == plan.server else { continue }
            let step = session.tftp!.receive(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count]), fromPort: port, output: sendBuffer)
            if step != .ignored { noteAnswer(session, now: now) }
            switch step {
            case .ignored:
                continue
            case .send(let length):
                FleetSystem.send(session.descriptor, UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]), to: address, port: port)
                session.lastProgressAt = now
                session.retries = 0
                timers.schedule(session.copy, at: now + Self.second)
            case .finished(let length):
                FleetSystem.send(session.descriptor, UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]), to: address, port: port)
                finishCurrent(session, .answered, now: now)
                return
            case .failed(let reason, let detail):
                finishCurrent(session, .refused("\(reason): \(detail)"), now: now)
                return
            }
        }
    }

    // MARK: DNS

    private func startDNS(_ session: ReplaySession, _ request: CapturedRequest, now: UInt64) {
        guard request.bytes.count >= 12, openUDP(session) else {
            finishCurrent(session, .unanswered("the query cannot be sent"), now: now)
            return
        }
        let id = UInt16.random(in: 0...UInt16.max)
        session.dnsID = id
        session.outgoing = request.bytes
        session.outgoing[0] = UInt8(id >> 8)
        session.outgoing[1] = UInt8(id & 0xFF)
        sendDatagram(session, request)
        timers.schedule(session.copy, at: now + Self.second)
    }

    private func receiveDNS(_ session: ReplaySession, now: UInt64) {
        for _ in 0..<8 {
            guard session.descriptor >= 0 else { return }
            guard let (count, address, port) = FleetSystem.receive(session.descriptor, into: receiveBuffer) else { return }
            guard address == plan.server, port == plan.dnsPort, count >= 12,
                  let header = try? DNSHeader(parsing: UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count])),
                  header.qr, header.id == session.dnsID else { continue }
            noteAnswer(session, now: now)
            finishCurrent(session, header.rcode == 0 ? .answered : .refused("rcode \(header.rcode)"), now: now)
            return
        }
    }

    // MARK: HTTP

    private func startHTTP(_ session: ReplaySession, _ request: CapturedRequest, now: UInt64) {
        var head = String(decoding: request.bytes, as: UTF8.self)
        for (original, mapped) in session.macs {
            head = DHCPReplayRewrite(originalMAC: original, mac: mapped, xid: 0, relayAddress: .any).remapMAC(in: head)
        }
        session.outgoing = Array(head.utf8)
        var exchange = HTTPClientExchange(host: "\(plan.server):\(plan.httpPort)", paths: [request.summary])
        exchange.requireOK = false
        session.http = exchange
        session.httpConnected = false
        closeDescriptor(session)
        var fd: Int32 = -1
        if leasedSourceWorks != false, let address = session.lastAddress {
            fd = (try? FleetSystem.tcpConnect(to: plan.server, port: plan.httpPort, source: address)) ?? -1
            if fd < 0 { leasedSourceWorks = false }
        }
        if fd < 0 { fd = (try? FleetSystem.tcpConnect(to: plan.server, port: plan.httpPort, source: nil)) ?? -1 }
        guard fd >= 0 else {
            finishCurrent(session, .unanswered("connect to \(plan.server):\(plan.httpPort) failed"), now: now)
            return
        }
        session.descriptor = fd
        session.descriptorGeneration &+= 1
        guard (try? poll.add(fd, token: token(session), events: EventPoll.writable)) != nil else {
            finishCurrent(session, .unanswered("epoll"), now: now)
            return
        }
        timers.schedule(session.copy, at: now + Self.second)
    }

    private func driveHTTP(_ session: ReplaySession, now: UInt64) {
        if !session.httpConnected {
            let error = FleetSystem.pendingError(session.descriptor)
            guard error == 0 else {
                finishCurrent(session, .unanswered("connect: \(String(cString: strerror(error)))"), now: now)
                return
            }
            session.httpConnected = true
            let sent = session.outgoing.withUnsafeBytes { Glibc.send(session.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == session.outgoing.count else {
                finishCurrent(session, .unanswered("the request could not be written whole"), now: now)
                return
            }
            session.http!.expectResponse()
            _ = try? poll.modify(session.descriptor, token: token(session), events: EventPoll.readable)
            return
        }
        for _ in 0..<8 {
            guard session.http != nil, session.descriptor >= 0 else { return }
            let progress: HTTPClientExchange.Progress
            if case .body(let remaining) = session.http!.phase {
                let wanted = Int(min(remaining ?? (1 << 22), 1 << 22))
                let count = recv(session.descriptor, nil, wanted, Int32(MSG_TRUNC) | Int32(MSG_DONTWAIT))
                if count < 0 {
                    if errno == EAGAIN || errno == EINTR { return }
                    finishCurrent(session, session.answered ? .refused("receive: \(String(cString: strerror(errno)))") : .unanswered("receive: \(String(cString: strerror(errno)))"), now: now)
                    return
                }
                progress = count == 0 ? session.http!.connectionClosed() : session.http!.receiveBody(count: count)
            } else {
                let count = recv(session.descriptor, receiveBuffer.baseAddress, 16384, Int32(MSG_DONTWAIT))
                if count < 0 {
                    if errno == EAGAIN || errno == EINTR { return }
                    finishCurrent(session, .unanswered("receive: \(String(cString: strerror(errno)))"), now: now)
                    return
                }
                progress = count == 0 ? session.http!.connectionClosed()
                    : session.http!.receiveHead(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count]))
                if case .body = progress { noteAnswer(session, now: now) }
                if case .responseComplete = progress { noteAnswer(session, now: now) }
            }
            session.lastProgressAt = now
            switch progress {
            case .needMore, .body:
                continue
            case .failed(let reason, let detail):
                finishCurrent(session, session.answered ? .refused("\(reason): \(detail)") : .unanswered("\(reason): \(detail)"), now: now)
                return
            case .responseComplete:
                let status = session.http!.lastStatus
                finishCurrent(session, status < 400 ? .answered : .refused("status \(status)"), now: now)
                return
            }
        }
    }
}

/// One copy of the capture's clients being replayed.
final class ReplaySession {
    struct DHCPState {
        var serverIdentifier: IPv4Address?
        var address: IPv4Address?
    }

    let copy: Int
    /// Captured MAC → this copy's MAC.
    let macs: [MACAddress: MACAddress]
    var active = false
    var position = 0
    var sentAt: UInt64 = 0
    var lastProgressAt: UInt64 = 0
    var answered = false
    var retries = 0
    /// The current request's bytes as sent (retransmitted as they are).
    var outgoing: [UInt8] = []
    /// Captured xid → replayed xid.
    var xids: [UInt32: UInt32] = [:]
    var xid: UInt32?
    var expectsReply = true
    var currentMAC: MACAddress?
    var dhcp: [MACAddress: DHCPState] = [:]
    /// The last address an ACK gave this copy: the source of its TFTP, DNS and HTTP.
    var lastAddress: IPv4Address?
    var tftp: TFTPClientTransfer?
    var http: HTTPClientExchange?
    var httpConnected = false
    var dnsID: UInt16 = 0
    var descriptor: Int32 = -1
    var descriptorGeneration: UInt32 = 0

    init(copy: Int, macs: [MACAddress: MACAddress]) {
        self.copy = copy
        self.macs = macs
    }
}
