import CLinuxShims
import Glibc
import Wire

/// Drives a fleet of simulated machines from one thread: an epoll set over plain non-blocking
/// sockets, a deadline queue for retransmissions and timeouts, and arrivals paced by `rate`.
///
/// DHCP goes through one socket for every machine (the relay's port 67, or port 68 in broadcast
/// mode), demultiplexed by transaction id; each machine then holds at most one socket of its own
/// at a time — UDP for its TFTP transfer and its DNS lookup, TCP for its HTTP fetches — bound to
/// its leased address when this host accepts that address as its own (an `ip route add local`
/// for the pool), else to whatever source the kernel picks.
public final class LoadRun {
    public let plan: LoadPlan
    private let poll: EventPoll
    /// Machine i from its arrival until it is done; nil before and after, so a million-machine
    /// run holds only the machines in flight.
    private var machines: [SimulatedMachine?]
    private var timers: DeadlineQueue
    private var due: [Int] = []
    private let dhcpSocket: Int32
    private let xidBase: UInt32
    private var statistics = LoadStatistics()
    private var inFlight = 0
    private var inStage: [Stage: Int] = [:]
    private var runStart: UInt64 = 0
    private var firstArrival: UInt64?
    private var lastBoot: UInt64?
    private var progressBytes: UInt64 = 0
    /// Nil until a machine first tries its leased address as a source.
    private var leasedSourceWorks: Bool?
    private let sendBuffer: UnsafeMutableRawBufferPointer
    private let receiveBuffer: UnsafeMutableRawBufferPointer

    private static let second: UInt64 = 1_000_000_000
    private static let dhcpToken: UInt64 = 0
    private static let maximumBodyRead = 1 << 22

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Opens the DHCP socket; fails with a clear message when the relay address is not this
    /// host's, port 67 is taken, or the interface does not exist.
    public init(plan: LoadPlan) throws(SetupError) {
        self.plan = plan
        guard plan.relayAddress != nil || plan.interface != nil else {
            throw SetupError(description: "give --relay-address (relay mode) or --interface (broadcast mode)")
        }
        do {
            poll = try EventPoll()
            if let relay = plan.relayAddress {
                dhcpSocket = try FleetSystem.udpSocket(bind: relay, port: 67, receiveBuffer: 8 << 20)
            } else {
                dhcpSocket = try FleetSystem.udpSocket(bind: .any, port: 68, broadcast: true, device: plan.interface, receiveBuffer: 8 << 20)
            }
            try poll.add(dhcpSocket, token: Self.dhcpToken, events: EventPoll.readable)
        } catch {
            let hint = error.errno == EADDRNOTAVAIL ? " (is the relay address configured on this host?)"
                : error.errno == EADDRINUSE ? " (another DHCP client, relay or server holds the port)"
                : error.errno == EACCES || error.errno == EPERM ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : ""
            throw SetupError(description: "\(error)\(hint)")
        }
        timers = DeadlineQueue(slots: plan.count)
        xidBase = UInt32.random(in: 0...UInt32.max)
        sendBuffer = .allocate(byteCount: 65536, alignment: 16)
        receiveBuffer = .allocate(byteCount: 65536, alignment: 16)
        machines = Array(repeating: nil, count: plan.count)
        statistics.requested = plan.count
        for stage in Stage.allCases { inStage[stage] = 0 }
    }

    /// Raises the descriptor limit as far as allowed (one socket per machine in flight).
    public static func raiseDescriptorLimit() -> Int { FleetSystem.raiseDescriptorLimit() }

    deinit {
        for case let machine? in machines where machine.descriptor >= 0 { close(machine.descriptor) }
        close(dhcpSocket)
        sendBuffer.deallocate()
        receiveBuffer.deallocate()
    }

    /// Runs until every machine is done, `duration` passes, or `shouldStop` says so (polled
    /// between batches of events). `progress` is called about ten times a second.
    public func run(progress: (LoadProgress) -> Void, shouldStop: () -> Bool) -> LoadStatistics {
        runStart = FleetSystem.now()
        let end = runStart + UInt64(plan.duration * Double(Self.second))
        var lastTick: UInt64 = 0
        var started = 0
        while true {
            var now = FleetSystem.now()
            if shouldStop() {
                abortInFlight(reason: "interrupted", now: now)
                statistics.stoppedBy = "interrupted"
                break
            }
            if now >= end {
                abortInFlight(reason: "deadline", now: now)
                statistics.stoppedBy = "deadline (--duration \(plan.duration) s)"
                break
            }
            started = startArrivals(started: started, now: now)
            due.removeAll(keepingCapacity: true)
            timers.expired(now: now, into: &due)
            for index in due { if let machine = machines[index] { timerFired(machine, now: now) } }
            if started == plan.count, inFlight == 0 { break }

            if now - lastTick >= Self.second / 10 {
                lastTick = now
                progress(snapshot(now: now))
            }
            var wakeAt = min(end, lastTick + Self.second / 10)
            if let earliest = timers.earliest { wakeAt = min(wakeAt, earliest) }
            if started < plan.count, inFlight < plan.concurrency { wakeAt = min(wakeAt, nextArrival(started)) }
            now = FleetSystem.now()
            let milliseconds = wakeAt > now ? Int32(min((wakeAt - now + 999_999) / 1_000_000, 1000)) : 0
            poll.wait(milliseconds: milliseconds) { token, events in
                self.handle(token: token, events: events)
            }
        }
        let now = FleetSystem.now()
        statistics.started = started
        statistics.wallSeconds = Double(now - runStart) / Double(Self.second)
        if let firstArrival, let lastBoot, statistics.booted > 0 {
            statistics.allBootedSeconds = Double(lastBoot - firstArrival) / Double(Self.second)
        }
        if leasedSourceWorks == false { statistics.sourceAddresses = "kernel-chosen (leased addresses are not local here)" }
        progress(snapshot(now: now))
        return statistics
    }

    private func snapshot(now: UInt64) -> LoadProgress {
        LoadProgress(elapsedSeconds: Double(now - runStart) / Double(Self.second), requested: plan.count,
                     started: statistics.booted + statistics.failed + inFlight, booted: statistics.booted,
                     failed: statistics.failed, inStage: inStage, bytes: progressBytes)
    }

    // MARK: Arrivals

    private func nextArrival(_ started: Int) -> UInt64 {
        guard plan.rate > 0 else { return 0 }
        return runStart + UInt64(Double(started) / plan.rate * Double(Self.second))
    }

    private func startArrivals(started: Int, now: UInt64) -> Int {
        var started = started
        var batch = 0
        // A bounded batch per turn keeps the loop answering replies while a burst starts.
        while started < plan.count, inFlight < plan.concurrency, batch < 256, nextArrival(started) <= now {
            let i = started
            let machine = SimulatedMachine(
                index: i, mac: plan.mac(of: i), firmware: plan.mix.firmware(of: i), hostName: plan.hostName(of: i),
                xid: xidBase &+ UInt32(truncatingIfNeeded: i), relay: plan.relayAddress, broadcast: plan.relayAddress == nil)
            machines[i] = machine
            started += 1
            batch += 1
            inFlight += 1
            if firstArrival == nil { firstArrival = now }
            machine.startedAt = now
            enter(.dhcp, machine, now: now)
            machine.retransmitInterval = firstRetransmit
            sendDHCP(machine)
            timers.schedule(machine.index, at: now + jittered(machine.retransmitInterval, machine))
        }
        return started
    }

    // MARK: Stage bookkeeping

    private func enter(_ stage: Stage, _ machine: SimulatedMachine, now: UInt64) {
        if let previous = machine.stage { inStage[previous]! -= 1 }
        machine.phase = .running(stage)
        inStage[stage]! += 1
        if statistics.stages[stage]!.firstEntered == 0 { statistics.stages[stage]!.firstEntered = now }
        machine.stageStartedAt = now
        machine.lastProgressAt = now
        machine.retries = 0
    }

    private func succeed(_ machine: SimulatedMachine, now: UInt64, bytes: UInt64 = 0, operations: Int = 1) {
        guard let stage = machine.stage else { return }
        statistics.stages[stage]!.recordSuccess(microseconds: (now - machine.stageStartedAt) / 1000, bytes: bytes, operations: operations)
        statistics.stages[stage]!.lastLeft = now
        closeDescriptor(machine)
        advance(machine, after: stage, now: now)
    }

    /// Moves to the next stage in the plan, skipping those not asked for; boots after the last.
    private func advance(_ machine: SimulatedMachine, after stage: Stage, now: UInt64) {
        let order = Stage.allCases
        var next = order.firstIndex(of: stage)! + 1
        while next < order.count {
            let candidate = order[next]
            if plan.stages.contains(candidate) {
                if begin(candidate, machine, now: now) { return }
            }
            next += 1
        }
        if let current = machine.stage { inStage[current]! -= 1 }
        machine.phase = .booted
        timers.schedule(machine.index, at: 0)
        inFlight -= 1
        statistics.booted += 1
        statistics.bootedByFirmware[machine.firmware, default: 0] += 1
        _ = statistics.boot.record(max(1, (now - machine.startedAt) / 1000))
        lastBoot = now
        machines[machine.index] = nil
    }

    private func fail(_ machine: SimulatedMachine, reason: String, detail: String, now: UInt64) {
        guard let stage = machine.stage else { return }
        statistics.stages[stage]!.failures[reason, default: 0] += 1
        if statistics.failureSamples.count < 20 {
            statistics.failureSamples.append("\(machine.mac) (\(machine.firmware.rawValue)) \(stage.rawValue): \(reason)\(detail.isEmpty ? "" : " — " + detail)")
        }
        closeDescriptor(machine)
        inStage[stage]! -= 1
        machine.phase = .failed
        timers.schedule(machine.index, at: 0)
        inFlight -= 1
        statistics.failed += 1
        statistics.failedByFirmware[machine.firmware, default: 0] += 1
        machines[machine.index] = nil
    }

    private func abortInFlight(reason: String, now: UInt64) {
        for case let machine? in machines where machine.stage != nil {
            fail(machine, reason: reason, detail: "", now: now)
        }
    }

    /// Starts `stage`; false when the machine has nothing to do there (counted as skipped).
    private func begin(_ stage: Stage, _ machine: SimulatedMachine, now: UInt64) -> Bool {
        guard let lease = machine.lease else { return false }
        switch stage {
        case .dhcp:
            return false
        case .tftp:
            var file = plan.tftpFile ?? lease.bootFile
            if plan.tftpFile == nil, let path = Self.httpPath(ofURL: file) {
                // iPXE is handed a script URL: it fetches that over HTTP, not TFTP.
                machine.httpPaths.append(path)
                statistics.stages[.tftp]!.skipped += 1
                return false
            }
            enter(.tftp, machine, now: now)
            if file.isEmpty {
                fail(machine, reason: "no boot file", detail: "the ACK names no boot file (option 67 or file)", now: now)
                return true
            }
            while file.hasPrefix("/") { file.removeFirst() }
            machine.tftpServer = plan.followNextServer && !lease.nextServer.isUnspecified ? lease.nextServer : plan.server
            machine.tftp = TFTPClientTransfer(filename: file, blockSize: plan.blockSize, askSize: true)
            guard openUDP(machine, now: now) else { return true }
            guard let length = try? machine.tftp!.writeRequest(into: sendBuffer) else {
                fail(machine, reason: "bad request", detail: "the file name \(file) does not fit a request", now: now)
                return true
            }
            FleetSystem.send(machine.descriptor, UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]), to: machine.tftpServer, port: plan.tftpPort)
            timers.schedule(machine.index, at: now + Self.second)
            return true
        case .http:
            let paths = machine.httpPaths + plan.httpFiles
            guard !paths.isEmpty else {
                statistics.stages[.http]!.skipped += 1
                return false
            }
            enter(.http, machine, now: now)
            machine.http = HTTPClientExchange(host: "\(plan.server):\(plan.httpPort)", paths: paths)
            connectHTTP(machine, now: now)
            return true
        case .dns:
            enter(.dns, machine, now: now)
            guard let domain = lease.domainName ?? plan.domain, !domain.isEmpty else {
                fail(machine, reason: "no domain", detail: "the ACK has no option 15 and no --domain was given", now: now)
                return true
            }
            let host = lease.hostName.flatMap { $0.isEmpty ? nil : $0 } ?? machine.hostName
            let name = host.contains(".") ? host : host + "." + domain
            machine.dns = DNSLookup(name: name, id: UInt16(truncatingIfNeeded: machine.dhcp.xid ^ (machine.dhcp.xid >> 16)))
            guard openUDP(machine, now: now) else { return true }
            sendDNS(machine, now: now)
            return true
        }
    }

    /// The path of an http:// URL (the server's own address or not: the plan's server answers).
    static func httpPath(ofURL text: String) -> String? {
        guard text.hasPrefix("http://") else { return nil }
        let rest = text.dropFirst("http://".count)
        guard let slash = rest.firstIndex(of: "/") else { return "/" }
        return String(rest[slash...])
    }

    // MARK: Sockets

    private func token(_ machine: SimulatedMachine) -> UInt64 {
        UInt64(machine.descriptorGeneration) << 32 | UInt64(machine.index + 1)
    }

    private func closeDescriptor(_ machine: SimulatedMachine) {
        guard machine.descriptor >= 0 else { return }
        close(machine.descriptor)
        machine.descriptor = -1
    }

    /// The address the machine's own sockets bind to: its lease, while this host accepts that.
    private func source(for machine: SimulatedMachine) -> IPv4Address? {
        leasedSourceWorks == false ? nil : machine.lease?.address
    }

    private func openUDP(_ machine: SimulatedMachine, now: UInt64) -> Bool {
        closeDescriptor(machine)
        var fd: Int32 = -1
        do {
            if let source = source(for: machine) {
                do {
                    fd = try FleetSystem.udpSocket(bind: source, port: 0)
                    leasedSourceWorks = true
                } catch where error.errno == EADDRNOTAVAIL {
                    leasedSourceWorks = false
                }
            }
            if fd < 0 { fd = try FleetSystem.udpSocket(bind: .any, port: 0) }
            machine.descriptor = fd
            machine.descriptorGeneration &+= 1
            try poll.add(fd, token: token(machine), events: EventPoll.readable)
            return true
        } catch {
            fail(machine, reason: "socket", detail: "\(error)", now: now)
            return false
        }
    }

    private func connectHTTP(_ machine: SimulatedMachine, now: UInt64) {
        let receiveBuffer = plan.httpReceiveBuffer > 0 ? Int32(clamping: plan.httpReceiveBuffer) : nil
        closeDescriptor(machine)
        machine.httpConnected = false
        var fd: Int32 = -1
        do {
            if let source = source(for: machine) {
                do {
                    fd = try FleetSystem.tcpConnect(to: plan.server, port: plan.httpPort, source: source, receiveBuffer: receiveBuffer)
                    leasedSourceWorks = true
                } catch where error.errno == EADDRNOTAVAIL {
                    leasedSourceWorks = false
                }
            }
            if fd < 0 { fd = try FleetSystem.tcpConnect(to: plan.server, port: plan.httpPort, source: nil, receiveBuffer: receiveBuffer) }
            machine.descriptor = fd
            machine.descriptorGeneration &+= 1
            try poll.add(fd, token: token(machine), events: EventPoll.writable)
            machine.lastProgressAt = now
            timers.schedule(machine.index, at: now + UInt64(plan.stageTimeout * Double(Self.second)))
        } catch {
            fail(machine, reason: "connect", detail: "\(error)", now: now)
        }
    }

    // MARK: Events

    private func handle(token: UInt64, events: UInt32) {
        let now = FleetSystem.now()
        if token == Self.dhcpToken {
            receiveDHCP(now: now)
            return
        }
        let index = Int(token & 0xFFFF_FFFF) - 1
        guard index >= 0, index < machines.count, let machine = machines[index] else { return }
        guard machine.descriptor >= 0, UInt32(token >> 32) == machine.descriptorGeneration, let stage = machine.stage else { return }
        switch stage {
        case .dhcp: return
        case .tftp: receiveTFTP(machine, now: now)
        case .http: driveHTTP(machine, events: events, now: now)
        case .dns: receiveDNS(machine, now: now)
        }
    }

    private func timerFired(_ machine: SimulatedMachine, now: UInt64) {
        guard let stage = machine.stage else { return }
        let timeout = UInt64(plan.stageTimeout * Double(Self.second))
        switch stage {
        case .dhcp:
            if now - machine.stageStartedAt >= timeout {
                let waitingFor = machine.dhcp.state == .selecting ? "no OFFER" : "no ACK"
                let naks = machine.naks > 0 ? ", \(machine.naks) NAKs" : ""
                fail(machine, reason: machine.naks > 0 ? "nak" : "timeout",
                     detail: "\(waitingFor) after \(machine.retries + 1) tries in \(plan.stageTimeout) s\(naks)", now: now)
                return
            }
            machine.retries += 1
            machine.retransmitInterval = min(machine.retransmitInterval * 2, 64 * Self.second)
            machine.dhcp.secondsElapsed = UInt16(min((now - machine.startedAt) / Self.second, 65535))
            sendDHCP(machine)
            timers.schedule(machine.index, at: min(now + jittered(machine.retransmitInterval, machine), machine.stageStartedAt + timeout))
        case .tftp:
            guard machine.retries < 5 else {
                let detail = machine.tftp!.hasServerPort ? "no DATA after \(machine.tftp!.receivedBytes) bytes" : "no answer to the request"
                fail(machine, reason: "timeout", detail: detail, now: now)
                return
            }
            machine.retries += 1
            if let length = try? machine.tftp!.writeRetransmission(into: sendBuffer) {
                let port = machine.tftp!.serverPort ?? plan.tftpPort
                FleetSystem.send(machine.descriptor, UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]), to: machine.tftpServer, port: port)
            }
            timers.schedule(machine.index, at: now + Self.second)
        case .http:
            if now - machine.lastProgressAt >= timeout {
                let what = machine.httpConnected ? "no bytes for \(plan.stageTimeout) s on GET \(machine.http!.currentPath)" : "connect took over \(plan.stageTimeout) s"
                fail(machine, reason: "timeout", detail: what, now: now)
            } else {
                timers.schedule(machine.index, at: machine.lastProgressAt + timeout)
            }
        case .dns:
            if now - machine.stageStartedAt >= timeout {
                fail(machine, reason: machine.dnsLastOutcome, detail: "\(machine.dns!.name) after \(machine.retries + 1) queries", now: now)
                return
            }
            machine.retries += 1
            sendDNS(machine, now: now)
        }
    }

    // MARK: DHCP

    /// The first DHCP retransmission interval (`--dhcp-retransmit`); it doubles up to 64 s.
    private var firstRetransmit: UInt64 { UInt64(plan.dhcpRetransmit * Double(Self.second)) }

    /// RFC 2131 §4.1: retransmission delays are "randomized by the value of a uniform random
    /// number chosen from the range -1 to +1" second — so a thousand machines that started
    /// together do not retransmit together. Intervals under 2 s get ±25 %.
    private func jittered(_ interval: UInt64, _ machine: SimulatedMachine) -> UInt64 {
        let spread = min(Self.second, interval / 4)
        guard spread > 0 else { return interval }
        return interval - spread + UInt64.random(in: 0...(2 * spread))
    }

    private func sendDHCP(_ machine: SimulatedMachine) {
        guard let length = try? machine.dhcp.writeMessage(into: sendBuffer) else { return }
        let bytes = UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length])
        if plan.relayAddress != nil {
            FleetSystem.send(dhcpSocket, bytes, to: plan.server, port: plan.dhcpPort)
        } else {
            FleetSystem.send(dhcpSocket, bytes, to: .broadcast, port: plan.dhcpPort)
        }
    }

    private func receiveDHCP(now: UInt64) {
        for _ in 0..<256 {
            guard let (count, _, _) = FleetSystem.receive(dhcpSocket, into: receiveBuffer) else { return }
            let bytes = UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count])
            guard let message = try? DHCPMessage(parsing: bytes) else { continue }
            let index = Int(message.xid &- xidBase)
            guard index >= 0, index < machines.count, let machine = machines[index], machine.stage == .dhcp else { continue }
            switch machine.dhcp.receive(message) {
            case .ignored:
                continue
            case .offered:
                machine.lastProgressAt = now
                machine.retransmitInterval = firstRetransmit
                sendDHCP(machine)
                timers.schedule(machine.index, at: now + jittered(machine.retransmitInterval, machine))
            case .bound(let lease):
                machine.lease = lease
                succeed(machine, now: now, operations: 1)
            case .refused:
                // A ROM starts over with a DISCOVER; only the stage timeout ends the machine.
                statistics.stages[.dhcp]!.restarts += 1
                machine.dhcp.restart()
                machine.naks += 1
                machine.retransmitInterval = firstRetransmit
                sendDHCP(machine)
                timers.schedule(machine.index, at: min(now + jittered(machine.retransmitInterval, machine),
                                                       machine.stageStartedAt + UInt64(plan.stageTimeout * Double(Self.second))))
            }
        }
    }

    // MARK: TFTP

    private func receiveTFTP(_ machine: SimulatedMachine, now: UInt64) {
        for _ in 0..<64 {
            guard machine.stage == .tftp, machine.descriptor >= 0 else { return }
            guard let (count, address, port) = FleetSystem.receive(machine.descriptor, into: receiveBuffer) else { return }
            guard address == machine.tftpServer else { continue }
            let before = machine.tftp!.receivedBytes
            let step = machine.tftp!.receive(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count]), fromPort: port, output: sendBuffer)
            progressBytes += machine.tftp!.receivedBytes - before
            switch step {
            case .ignored:
                continue
            case .send(let length):
                FleetSystem.send(machine.descriptor, UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]), to: address, port: port)
                machine.lastProgressAt = now
                machine.retries = 0
                timers.schedule(machine.index, at: now + Self.second)
            case .finished(let length):
                FleetSystem.send(machine.descriptor, UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]), to: address, port: port)
                succeed(machine, now: now, bytes: machine.tftp!.receivedBytes)
                return
            case .failed(let reason, let detail):
                fail(machine, reason: reason, detail: "\(String(decoding: machine.tftp!.filename, as: UTF8.self)): \(detail)", now: now)
                return
            }
        }
    }

    // MARK: HTTP

    private func driveHTTP(_ machine: SimulatedMachine, events: UInt32, now: UInt64) {
        if !machine.httpConnected {
            let error = FleetSystem.pendingError(machine.descriptor)
            guard error == 0 else {
                fail(machine, reason: "connect", detail: "\(plan.server):\(plan.httpPort): \(String(cString: strerror(error)))", now: now)
                return
            }
            guard events & (EventPoll.writable | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 else { return }
            machine.httpConnected = true
            machine.lastProgressAt = now
            sendHTTPRequest(machine, now: now)
            return
        }
        if !machine.pendingRequest.isEmpty {
            flushRequest(machine, now: now)
            return
        }
        readHTTP(machine, now: now)
    }

    private func sendHTTPRequest(_ machine: SimulatedMachine, now: UInt64) {
        guard let length = try? machine.http!.writeRequest(into: sendBuffer) else {
            fail(machine, reason: "bad request", detail: "path \(machine.http!.currentPath) cannot be requested", now: now)
            return
        }
        machine.pendingRequest = Array(UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]))
        flushRequest(machine, now: now)
    }

    private func flushRequest(_ machine: SimulatedMachine, now: UInt64) {
        let sent = machine.pendingRequest.withUnsafeBytes { Glibc.send(machine.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent < 0 {
            guard errno == EAGAIN || errno == EINTR else {
                fail(machine, reason: "send", detail: String(cString: strerror(errno)), now: now)
                return
            }
        } else {
            machine.pendingRequest.removeFirst(sent)
        }
        let wanted = machine.pendingRequest.isEmpty ? EventPoll.readable : EventPoll.writable
        do {
            try poll.modify(machine.descriptor, token: token(machine), events: wanted)
        } catch {
            fail(machine, reason: "socket", detail: "\(error)", now: now)
        }
    }

    private func readHTTP(_ machine: SimulatedMachine, now: UInt64) {
        // A few reads per readiness keeps one fast download from starving the others.
        for _ in 0..<8 {
            guard machine.stage == .http, machine.descriptor >= 0 else { return }
            let progress: HTTPClientExchange.Progress
            if case .body(let remaining) = machine.http!.phase {
                let wanted = min(remaining.map { Int(min($0, UInt64(Self.maximumBodyRead))) } ?? Self.maximumBodyRead, Self.maximumBodyRead)
                // MSG_TRUNC on TCP discards the bytes in the kernel: no copy, nothing kept.
                let count = recv(machine.descriptor, nil, wanted, Int32(MSG_TRUNC) | Int32(MSG_DONTWAIT))
                if count < 0 {
                    if errno == EAGAIN || errno == EINTR { return }
                    fail(machine, reason: "receive", detail: String(cString: strerror(errno)), now: now)
                    return
                }
                progress = count == 0 ? machine.http!.connectionClosed() : machine.http!.receiveBody(count: count)
                progressBytes += UInt64(count)
            } else {
                let count = recv(machine.descriptor, receiveBuffer.baseAddress, 16384, Int32(MSG_DONTWAIT))
                if count < 0 {
                    if errno == EAGAIN || errno == EINTR { return }
                    fail(machine, reason: "receive", detail: String(cString: strerror(errno)), now: now)
                    return
                }
                let before = machine.http!.bodyBytes
                progress = count == 0 ? machine.http!.connectionClosed()
                    : machine.http!.receiveHead(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count]))
                progressBytes += machine.http!.bodyBytes - before
            }
            machine.lastProgressAt = now
            switch progress {
            case .needMore, .body:
                continue
            case .failed(let reason, let detail):
                fail(machine, reason: reason, detail: detail, now: now)
                return
            case .responseComplete(let reconnect):
                if machine.http!.isDone {
                    succeed(machine, now: now, bytes: machine.http!.bodyBytes, operations: machine.http!.paths.count)
                    return
                }
                if reconnect {
                    connectHTTP(machine, now: now)
                } else {
                    sendHTTPRequest(machine, now: now)
                }
                return
            }
        }
    }

    // MARK: DNS

    private func sendDNS(_ machine: SimulatedMachine, now: UInt64) {
        guard let length = try? machine.dns!.writeQuery(into: sendBuffer) else {
            fail(machine, reason: "bad name", detail: "\(machine.dns!.name) is not a valid DNS name", now: now)
            return
        }
        FleetSystem.send(machine.descriptor, UnsafeRawBufferPointer(rebasing: sendBuffer[0..<length]), to: plan.server, port: plan.dnsPort)
        // Retries come fast: a fresh lease's name reaches the zones within a couple of seconds.
        timers.schedule(machine.index, at: now + Self.second / 2)
    }

    private func receiveDNS(_ machine: SimulatedMachine, now: UInt64) {
        for _ in 0..<8 {
            guard machine.stage == .dns, machine.descriptor >= 0 else { return }
            guard let (count, address, port) = FleetSystem.receive(machine.descriptor, into: receiveBuffer) else { return }
            guard address == plan.server, port == plan.dnsPort else { continue }
            switch machine.dns!.read(UnsafeRawBufferPointer(rebasing: receiveBuffer[0..<count])) {
            case .ignored:
                continue
            case .answered(let addresses):
                guard let expected = machine.lease?.address else { return }
                if addresses.contains(expected) {
                    succeed(machine, now: now)
                    return
                }
                if !addresses.isEmpty {
                    fail(machine, reason: "wrong address", detail: "\(machine.dns!.name) is \(addresses.map(\.description).joined(separator: ", ")), leased \(expected)", now: now)
                    return
                }
                machine.dnsLastOutcome = "nodata"
            case .refused(let rcode):
                // NXDOMAIN may only mean the lease's name is not published yet: ask again.
                guard rcode == 3 else {
                    fail(machine, reason: "rcode \(rcode)", detail: machine.dns!.name, now: now)
                    return
                }
                machine.dnsLastOutcome = "nxdomain"
            case .truncated:
                machine.dnsLastOutcome = "truncated"
            case .malformed(let detail):
                fail(machine, reason: "malformed", detail: detail, now: now)
                return
            }
        }
    }
}
