import Glibc
import Synchronization
import Testing
@testable import Tables

@Suite("SideThread")
struct SideThreadTests {
    @Test("the body runs on another thread while the caller goes on, and its result comes back")
    func runsBesideTheCaller() {
        // The body waits until the caller has done its part: if it ran inline in init, the
        // caller's flag could never be set first and the body would give up.
        let callerWent = Atomic<Bool>(false)
        let side = SideThread { () -> Int in
            for _ in 0..<5000 {
                if callerWent.load(ordering: .acquiring) { return 42 }
                usleep(1000)
            }
            return -1
        }
        // Still waiting for the caller: not finished.
        #expect(!side.isFinished)
        callerWent.store(true, ordering: .releasing)
        #expect(side.result() == 42)
        #expect(side.isFinished)
        #expect(side.result() == 42)   // a second call reads the same result, joins nothing
    }

    @Test("sixteen side threads at once: each result comes back to its own caller")
    func resultsCrossThreads() {
        let values = (0..<16).map { k in SideThread { (0..<100_000).reduce(k) { $0 &+ $1 } } }
        #expect(values.map { $0.result() } == (0..<16).map { k in (0..<100_000).reduce(k) { $0 &+ $1 } })
    }

    @Test("dropped without asking for the result: the thread ends on its own")
    func droppedWithoutResult() {
        let ran = Atomic<Int>(0)
        do { _ = SideThread { ran.add(1, ordering: .relaxed) } }
        for _ in 0..<2000 where ran.load(ordering: .relaxed) == 0 { usleep(1000) }
        #expect(ran.load(ordering: .relaxed) == 1)
    }
}
