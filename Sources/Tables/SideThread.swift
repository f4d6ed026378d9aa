#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Runs `body` on a thread of its own while the caller goes on; `result()` waits for it. For
/// the independent halves of a compile on a machine with a core to spare: the DHCP sections
/// beside the zones, the snapshot's check beside PostgreSQL storing it. No pool: a compile
/// starts a thread or two, a few tens of µs against its hundreds of ms. Not `Sendable`: the
/// thread that made it is the one that asks for the result.
public final class SideThread<Value: Sendable> {
    private var thread = pthread_t()
    private var started = false
    private var joined = false
    private var value: Value?
    private let done = Atomic<Bool>(false)

    public init(_ body: @escaping @Sendable () -> Value) {
        launch(body)
    }

    /// Whether the body has returned: `result()` would not wait.
    public var isFinished: Bool { done.load(ordering: .acquiring) }

    private func launch(_ body: @escaping @Sendable () -> Value) {
        // The thread's entry is a C function, which cannot name `Value`: it gets a plain box.
        let box = Unmanaged.passRetained(ThreadEntry { [self] in
            value = body()
            done.store(true, ordering: .releasing)
        })
        var created = pthread_t()
        started = pthread_create(&created, nil, { argument in
            Unmanaged<ThreadEntry>.fromOpaque(argument!).takeRetainedValue().work()
            return nil
        }, box.toOpaque()) == 0
        thread = created
        if !started {
            // No thread to be had: the work is done here, before the caller goes on.
            box.takeRetainedValue().work()
        }
    }

    /// The body's result, once its thread has finished (the join orders its writes before
    /// this read).
    public func result() -> Value {
        if started, !joined {
            pthread_join(thread, nil)
            joined = true
        }
        return value!
    }

    deinit {
        // Dropped without `result()`: the thread still holds a reference until it ends, so
        // this runs on it or after it; nothing is left to join.
        if started, !joined { pthread_detach(thread) }
    }
}

private final class ThreadEntry {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}
