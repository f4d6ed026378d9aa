// Engine benchmarks on loopback (issue 3): a server in this process (the engine on io_uring or
// epoll, or a plain blocking loop), a load generator in a child process (this executable again,
// in its client mode), and the server's own CPU time and allocations over the measured window.
//
//   engine-bench udp --server io_uring|epoll|blocking --size 64 [--sockets 1] [--clients 4]
//                    [--window 32] [--warmup-ms 500] [--ms 3000] [--wait-budget-us 0]
//   engine-bench tcp --server io_uring|epoll [--method splice|zeroCopySend] [--mib 64]
//                    [--transfers 8] [--ms 20000]
//
// Each prints one `RESULT key=value …` line. `Benchmarks/engine/run` runs them all back to back.
//
// Server CPU is getrusage(RUSAGE_SELF) (utime + stime, the same accounting as /proc/PID/stat,
// at µs resolution) taken when the client reports the end of its warm-up and again at its end;
// the client is another process, so none of its CPU is in it. While the window is open this
// process's main thread is blocked in read(2) on the client's pipe, so the CPU is the ring
// thread's (or the blocking loop's). Allocations: this executable replaces malloc & co. (see
// CEngineBench), and the same two moments bracket the count.
import CEngineBench
import Engine
import Glibc
import Synchronization

// MARK: Arguments

let arguments = CommandLine.arguments

func option(_ name: String, _ fallback: String) -> String {
    if let i = arguments.firstIndex(of: "--" + name), i + 1 < arguments.count { return arguments[i + 1] }
    return fallback
}

func intOption(_ name: String, _ fallback: Int) -> Int { Int(option(name, String(fallback))) ?? fallback }

func fail(_ message: String) -> Never {
    let text = Array("engine-bench: \(message)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

let loopback: UInt32 = 0x7F00_0001

// MARK: Measuring

struct Snapshot {
    var nanoseconds: UInt64
    var cpuMicroseconds: UInt64
    var allocations: UInt64
    var work: UInt64

    static func take(work: UInt64) -> Snapshot {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let cpu = UInt64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000
            + UInt64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Snapshot(nanoseconds: UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec),
                        cpuMicroseconds: cpu, allocations: eb_allocations(), work: work)
    }
}

/// The client process: this executable in a client mode, stdout a pipe to us.
final class Child {
    let pid: pid_t
    let output: Int32
    private var buffer = [UInt8](repeating: 0, count: 4096)
    private var pending: [UInt8] = []

    init(_ childArguments: [String]) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { fail("pipe: \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
        posix_spawn_file_actions_addclose(&actions, ends[0])
        let path = "/proc/self/exe"
        let all = [CommandLine.arguments[0]] + childArguments
        var argv: [UnsafeMutablePointer<CChar>?] = all.map { strdup($0) } + [nil]
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, nil, &argv, environ)
        for p in argv { free(p) }
        posix_spawn_file_actions_destroy(&actions)
        close(ends[1])
        guard result == 0 else { fail("posix_spawn: \(result)") }
        pid = child
        output = ends[0]
        pending.reserveCapacity(4096)
    }

    /// The next line from the client (without allocating until one is complete).
    func line() -> String? {
        while true {
            if let newline = pending.firstIndex(of: 10) {
                let text = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return text
            }
            let n = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return nil }
            pending.append(contentsOf: buffer[0..<n])
        }
    }

    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        close(output)
        return status
    }
}

/// Runs the client and brackets its measured part with snapshots of `work()`.
func measure(client arguments: [String], work: () -> UInt64) -> (Snapshot, Snapshot, [String]) {
    let child = Child(arguments)
    var start: Snapshot?
    var stop: Snapshot?
    var extra: [String] = []
    while let line = child.line() {
        if line == "start" { start = Snapshot.take(work: work()) }
        else if line == "stop" { stop = Snapshot.take(work: work()) }
        else { extra.append(line) }
    }
    let status = child.wait()
    guard status == 0, let start, let stop else { fail("client failed (status \(status)): \(extra)") }
    return (start, stop, extra)
}

func format(_ value: Double, _ digits: Int) -> String {
    var text = String(Int((value * pow(10, Double(digits))).rounded()))
    if digits > 0 {
        while text.count <= digits { text = "0" + text }
        text.insert(".", at: text.index(text.endIndex, offsetBy: -digits))
    }
    return text
}

// MARK: UDP servers

/// The engine's echo: each datagram copied into a send slot and sent back to its source from
/// the socket it came in on.
final class EchoHandler: RingHandler, @unchecked Sendable {
    let socketCount: Int
    /// The sockets' batching budget (`--wait-budget-us`; io_uring only; 0: answer at once).
    let waitBudget: UInt32
    private let state = Mutex<[UInt16]>([])

    init(socketCount: Int, waitBudget: UInt32) {
        self.socketCount = socketCount
        self.waitBudget = waitBudget
    }

    var ports: [UInt16] { state.withLock { $0 } }

    func started(ring: RingContext) throws {
        var ports: [UInt16] = []
        for _ in 0..<socketCount {
            let socket = try ring.openUDP(UDPSocketOptions(bind: IPv4Endpoint(address: loopback, port: 0), packetInfo: false,
                                                           waitBudgetMicroseconds: waitBudget))
            ports.append(try ring.localEndpoint(of: socket).port)
        }
        state.withLock { $0 = ports }
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {
        guard let slot = ring.allocateSlot() else { return }
        let count = min(datagram.payload.count, slot.buffer.count)
        slot.buffer.baseAddress!.copyMemory(from: datagram.payload.baseAddress!, byteCount: count)
        ring.send(slot, length: count, on: datagram.socket, to: datagram.source)
    }
}

/// The baseline: one thread, one blocking socket, recvfrom then sendto.
final class BlockingEcho: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    let echoed = Atomic<UInt64>(0)
    let stopping = Atomic<Bool>(false)
    private var thread = pthread_t()

    init() {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = loopback.bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        port = UInt16(bigEndian: address.sin_port)
        // A receive timeout lets the loop see the stop flag.
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func start() {
        let box = Unmanaged.passRetained(self)
        pthread_create(&thread, nil, { argument in
            let echo = Unmanaged<BlockingEcho>.fromOpaque(argument!).takeRetainedValue()
            echo.loop()
            return nil
        }, box.toOpaque())
    }

    private func loop() {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 2048, alignment: 16)
        defer { buffer.deallocate() }
        var peer = sockaddr_in()
        while !stopping.load(ordering: .relaxed) {
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer, 2048, 0, $0, &length) }
            }
            if n < 0 { continue }
            _ = withUnsafePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, buffer, n, 0, $0, length) }
            }
            echoed.add(1, ordering: .relaxed)
        }
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
        pthread_join(thread, nil)
        close(fd)
    }
}

func runUDP() {
    let server = option("server", "io_uring")
    let size = intOption("size", 64)
    let sockets = intOption("sockets", 1)
    let portsFile = "/tmp/rackplane-engine-bench-ports-\(getpid())"
    defer { unlink(portsFile) }

    var ports: [UInt16]
    var engine: Engine?
    var blocking: BlockingEcho?
    let work: () -> UInt64
    switch server {
    case "io_uring", "epoll":
        var configuration = RingConfiguration()
        configuration.maxSockets = max(64, sockets + 64)
        let waitBudget = UInt32(intOption("wait-budget-us", 0))
        configuration.coalesceMicroseconds = waitBudget
        let handler = EchoHandler(socketCount: sockets, waitBudget: waitBudget)
        let e = Engine(rings: 1, backend: EngineBackend(rawValue: server)!, configuration: configuration) { _ in handler }
        do { try e.start() } catch { fail("engine: \(error)") }
        engine = e
        ports = handler.ports
        let counters = e.counters()[0]
        work = { counters.datagramsSent }
    case "blocking":
        guard sockets == 1 else { fail("the blocking loop serves one socket") }
        let b = BlockingEcho()
        b.start()
        blocking = b
        ports = [b.port]
        work = { b.echoed.load(ordering: .relaxed) }
    default:
        fail("unknown server \(server)")
    }
    let text = ports.map(String.init).joined(separator: "\n") + "\n"
    let file = fopen(portsFile, "w")
    fputs(text, file)
    fclose(file)

    let (start, stop, extra) = measure(client: [
        "udp-client", "--ports-file", portsFile, "--size", String(size),
        "--clients", option("clients", "4"), "--window", option("window", "32"),
        "--warmup-ms", option("warmup-ms", "500"), "--ms", option("ms", "3000"),
    ], work: work)

    var errors: UInt64 = 0
    var exhausted: UInt64 = 0
    if let engine {
        engine.stop()
        engine.wait()
        let c = engine.counters()[0]
        errors = c.datagramSendErrors
        exhausted = c.sendSlotsExhausted + c.receiveBuffersExhausted
    }
    blocking?.stop()

    let packets = Double(stop.work - start.work)
    let seconds = Double(stop.nanoseconds - start.nanoseconds) / 1e9
    let cpu = Double(stop.cpuMicroseconds - start.cpuMicroseconds)
    let allocations = Double(stop.allocations - start.allocations)
    print("RESULT udp server=\(server) size=\(size) sockets=\(sockets) packets=\(Int(packets))"
        + " seconds=\(format(seconds, 3)) pps=\(Int(packets / seconds))"
        + " cpu_us_per_packet=\(format(cpu / packets, 3)) cpu_share=\(format(cpu / 1e6 / seconds, 2))"
        + " allocs=\(Int(allocations)) allocs_per_packet=\(format(allocations / packets, 4))"
        + " send_errors=\(errors) exhausted=\(exhausted) client=\(extra.joined(separator: ","))")
}

func runUDPClient() {
    let fd = open(option("ports-file", ""), O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { fail("no ports file") }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    close(fd)
    let ports = bytes.split(separator: 10).compactMap { UInt16(String(decoding: $0, as: UTF8.self)) }
    var load = eb_udp_load()
    let result = ports.withUnsafeBufferPointer { buffer -> Int32 in
        load.ports = buffer.baseAddress
        load.port_count = Int32(buffer.count)
        load.clients = Int32(intOption("clients", 4))
        load.window = Int32(intOption("window", 32))
        load.payload = Int32(intOption("size", 64))
        load.warmup_ms = Int32(intOption("warmup-ms", 500))
        load.duration_ms = Int32(intOption("ms", 3000))
        load.report_fd = 1
        return eb_udp_load_run(&load)
    }
    guard result == 0 else { fail("load: errno \(-result)") }
    print("sent=\(load.sent) received=\(load.received) resent=\(load.resent)")
}


// MARK: TCP file

/// Each connection: the whole file with `sendFile`, then close.
final class FileHandler: RingHandler, @unchecked Sendable {
    let file: Int32
    let size: Int64
    private let state = Mutex<UInt16>(0)

    init(file: Int32, size: Int64) {
        self.file = file
        self.size = size
    }

    var port: UInt16 { state.withLock { $0 } }

    func started(ring: RingContext) throws {
        let listener = try ring.listenTCP(TCPListenerOptions(bind: IPv4Endpoint(address: loopback, port: 0)))
        let port = try ring.localEndpoint(of: listener).port
        state.withLock { $0 = port }
    }

    func received(_ datagram: ReceivedDatagram, ring: RingContext) {}

    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, listener: SocketID, ring: RingContext) {
        ring.sendFile(file, offset: 0, length: size, on: connection)
    }

    func sendCompleted(on connection: ConnectionID, ring: RingContext) { ring.close(connection) }
}

func runTCP() {
    let server = option("server", "io_uring")
    let method = FileSendMethod(rawValue: option("method", "splice")) ?? .splice
    let size = Int64(intOption("mib", 64)) << 20
    let path = "/tmp/rackplane-engine-bench-\(size >> 20)MiB.bin"
    // The file, written once and then read back, so it is in the page cache as a server's
    // images would be.
    var info = stat()
    if stat(path, &info) != 0 || info.st_size != size {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        var state: UInt32 = 0x2545_F491
        for i in 0..<chunk.count {
            state = state &* 1_664_525 &+ 1_013_904_223
            chunk[i] = UInt8(truncatingIfNeeded: state >> 24)
        }
        for _ in 0..<(size >> 20) { _ = write(fd, chunk.baseAddress, chunk.count) }
        chunk.deallocate()
        close(fd)
    }
    let file = open(path, O_RDONLY | O_CLOEXEC)
    guard file >= 0 else { fail("open \(path)") }
    defer { close(file) }
    let scratch = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 4096)
    while read(file, scratch, 1 << 20) > 0 {}
    scratch.deallocate()

    var configuration = RingConfiguration()
    configuration.fileSendMethod = method
    let handler = FileHandler(file: file, size: size)
    guard let backend = EngineBackend(rawValue: server), backend != .memory else { fail("unknown server \(server)") }
    let engine = Engine(rings: 1, backend: backend, configuration: configuration) { _ in handler }
    do { try engine.start() } catch { fail("engine: \(error)") }
    let counters = engine.counters()[0]
    let (start, stop, extra) = measure(client: [
        "tcp-client", "--port", String(handler.port), "--bytes", String(size),
        "--transfers", option("transfers", "8"), "--ms", option("ms", "20000"),
    ], work: { counters.fileBytesSent })
    engine.stop()
    engine.wait()

    let bytes = Double(stop.work - start.work)
    let gib = bytes / Double(1 << 30)
    let seconds = Double(stop.nanoseconds - start.nanoseconds) / 1e9
    let cpu = Double(stop.cpuMicroseconds - start.cpuMicroseconds) / 1e6
    let label = backend == .epoll ? "sendfile" : method.rawValue
    print("RESULT tcp server=\(server) method=\(label) file_mib=\(size >> 20) transfers=\(Int(bytes) / Int(size))"
        + " seconds=\(format(seconds, 3)) gib_per_s=\(format(gib / seconds, 2))"
        + " server_cpu_s_per_gib=\(format(cpu / gib, 3)) cpu_share=\(format(cpu / seconds, 2))"
        + " client=\(extra.joined(separator: ","))")
}

func runTCPClient() {
    let port = UInt16(intOption("port", 0))
    let bytes = intOption("bytes", 64 << 20)
    let transfers = intOption("transfers", 8)
    let budget = UInt64(intOption("ms", 20000))
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 4096)
    var begun = timespec()
    clock_gettime(CLOCK_MONOTONIC, &begun)
    func elapsedMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64((now.tv_sec - begun.tv_sec) * 1000 + (now.tv_nsec - begun.tv_nsec) / 1_000_000)
    }
    // One warm-up transfer, then `transfers` measured ones (fewer if the time budget runs out).
    var done = 0
    for n in 0...transfers {
        if n == 1 { print("start"); fflush(nil) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = loopback.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { fail("connect: \(errno)") }
        var received = 0
        while true {
            let r = recv(fd, buffer, 1 << 20, 0)
            if r < 0, errno == EINTR { continue }
            if r <= 0 { break }
            received += r
        }
        close(fd)
        guard received == bytes else { fail("transfer \(n): \(received) of \(bytes) bytes") }
        if n > 0 { done += 1 }
        if elapsedMilliseconds() > budget { break }
    }
    print("stop")
    print("transfers=\(done)")
}

// MARK: Main

// The counter must see allocations: one Array is one malloc.
func allocationSelfCheck() -> UInt64 {
    let before = eb_allocations()
    let array = [UInt8](repeating: 1, count: 100)
    let after = eb_allocations()
    precondition(array.count == 100)
    return after - before
}

switch arguments.count > 1 ? arguments[1] : "" {
case "udp": runUDP()
case "udp-client": runUDPClient()
case "tcp": runTCP()
case "tcp-client": runTCPClient()
case "alloc-check": print("allocations for one 100-byte Array: \(allocationSelfCheck())")
default: fail("usage: engine-bench udp|tcp [options] (see the comment at the top of main.swift)")
}
