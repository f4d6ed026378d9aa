import CLibURing
import Glibc
import Synchronization

/// Which kernel interface moves the bytes.
public enum EngineBackend: String, Sendable, CaseIterable {
    /// One io_uring per ring thread: multishot receives into provided buffers, batched sends.
    case ioURing = "io_uring"
    /// epoll with recvmmsg/sendmmsg: where io_uring is disabled (sysctl, seccomp, old kernels).
    case epoll
    /// No kernel at all: tests inject traffic and read what was sent.
    case memory
}

/// Runs `rings` ring threads, each with its own handler (from `makeHandler`), its own sockets
/// (`SO_REUSEPORT` lets them share ports) and its own backend instance. Nothing is shared
/// between rings on the hot path.
public final class Engine: @unchecked Sendable {
    public let backend: EngineBackend
    public let configuration: RingConfiguration
    private let ringCount: Int
    private let makeHandler: @Sendable (Int) -> RingHandler
    private var threads: [pthread_t] = []
    private let rings: Mutex<[RingThread]> = Mutex([])
    private let started = Mutex<(ready: Int, errors: [String])>((0, []))

    /// - Parameter backend: nil picks io_uring when the kernel allows it, else epoll (logged).
    public init(rings: Int = 1, backend: EngineBackend? = nil, configuration: RingConfiguration = RingConfiguration(),
                log: (String) -> Void = { print($0) }, makeHandler: @escaping @Sendable (Int) -> RingHandler) {
        precondition(rings >= 1)
        self.ringCount = rings
        self.configuration = configuration
        self.makeHandler = makeHandler
        if let backend {
            self.backend = backend
        } else if let reason = IOURingProbe.unavailableReason() {
            log("engine: io_uring unavailable (\(reason)); using the epoll backend")
            self.backend = .epoll
        } else {
            self.backend = .ioURing
        }
    }

    /// Starts the ring threads and waits until each has run its handler's `started`; throws
    /// if any failed (then every ring is stopped).
    public func start() throws {
        // A write to a connection its peer closed must come back as EPIPE, not kill the
        // process: `splice` and `sendfile` to a socket have no MSG_NOSIGNAL.
        signal(SIGPIPE, SIG_IGN)
        for index in 0..<ringCount {
            let ring = RingThread(index: index, engine: self)
            rings.withLock { $0.append(ring) }
            var thread = pthread_t()
            let box = Unmanaged.passRetained(ring)
            let result = pthread_create(&thread, nil, { argument in
                let ring = Unmanaged<RingThread>.fromOpaque(argument!).takeRetainedValue()
                ring.run()
                return nil
            }, box.toOpaque())
            guard result == 0 else {
                box.release()
                stop()
                wait()
                throw SystemError(errno: result, call: "pthread_create")
            }
            threads.append(thread)
        }
        // Wait for every ring to report in (a few milliseconds).
        while true {
            let (ready, errors) = started.withLock { ($0.ready, $0.errors) }
            if ready == ringCount {
                if !errors.isEmpty {
                    stop()
                    wait()
                    throw EngineStartError(messages: errors)
                }
                return
            }
            usleep(1000)
        }
    }

    /// Asks every ring to close its sockets and connections and to end once nothing is in
    /// flight. Safe from any thread, and from a signal-watching thread.
    public func stop() {
        for ring in rings.withLock({ $0 }) { ring.requestStop() }
    }

    /// Waits for every ring thread to end.
    public func wait() {
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
    }

    /// Counters of every ring, by ring index (a snapshot; read from any thread).
    public func counters() -> [RingCounters] {
        rings.withLock { $0.compactMap { $0.context?.counters } }
    }

    /// Wakes every ring (e.g. to apply a new table generation between batches).
    public func wakeAll() {
        for ring in rings.withLock({ $0 }) { ring.wake() }
    }

    fileprivate func ringStarted(error: String?) {
        started.withLock {
            $0.ready += 1
            if let error { $0.errors.append(error) }
        }
    }

    fileprivate func handler(for index: Int) -> RingHandler { makeHandler(index) }
}

public struct EngineStartError: Error, CustomStringConvertible {
    public let messages: [String]
    public var description: String { messages.joined(separator: "; ") }
}

/// One ring: its thread body, and the stop flag other threads set.
final class RingThread: @unchecked Sendable {
    let index: Int
    unowned let engine: Engine
    private let stopRequested = Atomic<Bool>(false)
    /// The ring's driver, for `wake()` from other threads (the only call that crosses threads).
    private let driverLock = Mutex<WakeTarget?>(nil)

    private struct WakeTarget: @unchecked Sendable {
        let driver: RingDriver
    }
    private(set) var context: RingContext?

    init(index: Int, engine: Engine) {
        self.index = index
        self.engine = engine
    }

    var shouldStop: Bool { stopRequested.load(ordering: .acquiring) }

    func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
    }

    func wake() { driverLock.withLock { $0?.driver.wake() } }

    func run() {
        let context = RingContext(index: index, configuration: engine.configuration)
        let driver: RingDriver
        do {
            switch engine.backend {
            case .ioURing: driver = try IOURingDriver(context: context, thread: self)
            case .epoll: driver = try EpollDriver(context: context, thread: self)
            case .memory: driver = InMemoryDriver(context: context, shouldStop: { [unowned self] in self.shouldStop })
            }
        } catch {
            engine.ringStarted(error: "ring \(index): \(error)")
            return
        }
        context.driver = driver
        context.handler = engine.handler(for: index)
        self.context = context
        let target = WakeTarget(driver: driver)
        driverLock.withLock { $0 = target }
        do {
            try context.handler.started(ring: context)
        } catch {
            context.beginShutdown()
            engine.ringStarted(error: "ring \(index): \(error)")
            try? driver.run()
            driverLock.withLock { $0 = nil }
            return
        }
        context.baselineSockets = context.configuration.maxSockets - context.freeSockets.count
        engine.ringStarted(error: nil)
        do {
            try driver.run()
        } catch {
            print("ring \(index): \(error)")
        }
        driverLock.withLock { $0 = nil }
    }
}

/// Whether this process may create an io_uring (kernel.io_uring_disabled, seccomp, old kernel).
public enum IOURingProbe {
    public static func unavailableReason() -> String? {
        var ring = io_uring()
        let result = io_uring_queue_init(2, &ring, 0)
        if result < 0 { return String(cString: strerror(-result)) }
        io_uring_queue_exit(&ring)
        return nil
    }
}
