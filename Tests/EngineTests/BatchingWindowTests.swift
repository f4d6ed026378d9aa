import Testing
@testable import Engine

/// When the ring may hold a ready datagram for company, and for how long.
@Suite struct BatchingWindowTests {
    /// `count` arrivals on sockets with `budget`, spread over one period starting at `start`.
    static func period(_ window: inout BatchingWindow, start: UInt64, arrivals count: Int, budget: UInt32) -> UInt64 {
        for _ in 0..<count { window.noteArrival(budget: budget) }
        let end = start + BatchingWindow.periodMilliseconds
        window.advance(now: end)
        return end
    }

    @Test func steadyLoadOnAPatientSocketGetsItsBudget() {
        var window = BatchingWindow(cap: 2000, now: 0)
        #expect(window.microseconds == 0)
        // 6,000 a second (3,000 DORA/s): 12 expected in 2 ms.
        _ = Self.period(&window, start: 0, arrivals: 1500, budget: 2000)
        #expect(window.microseconds == 2000)
    }

    @Test func theCapBoundsEveryBudget() {
        var window = BatchingWindow(cap: 500, now: 0)
        _ = Self.period(&window, start: 0, arrivals: 5_000, budget: 2000)
        #expect(window.microseconds == 500)
    }

    @Test func theBusierTheRingTheShorterTheHold() {
        var window = BatchingWindow(cap: 2000, now: 0)
        // 40,000 a second: 16 arrive in 400 µs, so the hold is 400 µs, not the 2 ms budget.
        _ = Self.period(&window, start: 0, arrivals: 10_000, budget: 2000)
        #expect(window.microseconds == 400)
        // 8,000 a second: 16 take 2 ms, the budget.
        _ = Self.period(&window, start: 250, arrivals: 2_000, budget: 2000)
        #expect(window.microseconds == 2000)
    }

    @Test func lightTrafficIsNeverHeld() {
        var window = BatchingWindow(cap: 2000, now: 0)
        // 200 a second: 0.4 expected in 2 ms, below the two that make a wait worth it.
        _ = Self.period(&window, start: 0, arrivals: 50, budget: 2000)
        #expect(window.microseconds == 0)
        // 1,000 a second: exactly two in 2 ms.
        _ = Self.period(&window, start: 250, arrivals: 250, budget: 2000)
        #expect(window.microseconds == 2000)
        // Silence: back to no wait.
        window.advance(now: 10_000)
        #expect(window.microseconds == 0)
    }

    @Test func theLeastPatientSocketDecidesAndShrinksTheWindowAtOnce() {
        var window = BatchingWindow(cap: 2000, now: 0)
        let end = Self.period(&window, start: 0, arrivals: 1500, budget: 2000)
        #expect(window.microseconds == 2000)
        // A DNS query arrives: the window drops to its budget before the period ends.
        window.noteArrival(budget: 500)
        #expect(window.microseconds == 500)
        for _ in 0..<5000 { window.noteArrival(budget: 2000) }
        window.advance(now: end + BatchingWindow.periodMilliseconds)
        #expect(window.microseconds == 500)
        // A datagram for a lock-step transfer (budget 0) stops all holding.
        window.noteArrival(budget: 0)
        #expect(window.microseconds == 0)
    }

    @Test func theWindowChangesOnlyAtPeriodEnds() {
        var window = BatchingWindow(cap: 2000, now: 0)
        for _ in 0..<1500 { window.noteArrival(budget: 2000) }
        window.advance(now: BatchingWindow.periodMilliseconds - 1)
        #expect(window.microseconds == 0)
        window.advance(now: BatchingWindow.periodMilliseconds)
        #expect(window.microseconds == 2000)
    }

    @Test func disabledAfterTheKernelRefusesIt() {
        var window = BatchingWindow(cap: 2000, now: 0)
        _ = Self.period(&window, start: 0, arrivals: 5000, budget: 2000)
        window.disable()
        #expect(window.microseconds == 0)
        _ = Self.period(&window, start: 250, arrivals: 5000, budget: 2000)
        #expect(window.microseconds == 0)
    }

    @Test func socketBudgetsReachTheRingsWindow() throws {
        let handler = ScriptedHandler()
        handler.udpPorts = [6767]
        var configuration = RingConfiguration()
        configuration.coalesceMicroseconds = 1000
        handler.waitBudget = 800
        let ring = try InMemoryRing(handler: handler, configuration: configuration)
        for _ in 0..<1000 {
            #expect(ring.deliver([1], toPort: 6767, from: InMemoryBackendTests.client))
        }
        ring.context.batching.advance(now: ring.context.now + BatchingWindow.periodMilliseconds)
        #expect(ring.context.batching.microseconds == 800)
    }
}
