import Testing
@testable import Engine

@Suite struct TimerWheelTests {
    @Test func firesInDeadlineOrderAndOnlyOnce() {
        let wheel = TimerWheel(capacity: 4, buckets: 8, resolutionMilliseconds: 10, nowMilliseconds: 1000)
        _ = wheel.schedule(atMilliseconds: 1050, token: 5)
        _ = wheel.schedule(atMilliseconds: 1020, token: 2)
        // Past the end of one turn of the wheel (8 × 10 ms): stays until its round comes.
        _ = wheel.schedule(atMilliseconds: 1200, token: 20)
        var fired: [UInt64] = []
        wheel.advance(toMilliseconds: 1030) { fired.append($0) }
        #expect(fired == [2])
        wheel.advance(toMilliseconds: 1100) { fired.append($0) }
        #expect(fired == [2, 5])
        wheel.advance(toMilliseconds: 1190) { fired.append($0) }
        #expect(fired == [2, 5])
        wheel.advance(toMilliseconds: 1200) { fired.append($0) }
        #expect(fired == [2, 5, 20])
        #expect(wheel.scheduled == 0)
    }

    @Test func cancelledTimersNeverFireAndStaleIDsAreIgnored() {
        let wheel = TimerWheel(capacity: 2, buckets: 16, resolutionMilliseconds: 1, nowMilliseconds: 0)
        let a = wheel.schedule(atMilliseconds: 5, token: 1)
        wheel.cancel(a)
        let b = wheel.schedule(atMilliseconds: 5, token: 2)   // reuses a's node, new generation
        wheel.cancel(a)                                        // stale: must not cancel b
        var fired: [UInt64] = []
        wheel.advance(toMilliseconds: 10) { fired.append($0) }
        #expect(fired == [2])
        wheel.cancel(b)                                        // already fired: ignored
        #expect(wheel.scheduled == 0)
    }

    @Test func thousandsOfTimersGrowThePoolOnce() {
        let wheel = TimerWheel(capacity: 1024, buckets: 4096, resolutionMilliseconds: 1, nowMilliseconds: 0)
        for i in 0..<5000 { _ = wheel.schedule(atMilliseconds: UInt64(1 + i % 3000), token: UInt64(i)) }
        #expect(wheel.scheduled == 5000)
        var count = 0
        wheel.advance(toMilliseconds: 3000) { _ in count += 1 }
        #expect(count == 5000)
    }

    @Test func waitLimitPointsAtTheNextTimer() {
        let wheel = TimerWheel(capacity: 8, buckets: 64, resolutionMilliseconds: 10, nowMilliseconds: 1000)
        #expect(wheel.millisecondsUntilNextTimer(now: 1000) == nil)
        _ = wheel.schedule(atMilliseconds: 1095, token: 1)
        #expect(wheel.millisecondsUntilNextTimer(now: 1000) == 100)
        #expect(wheel.millisecondsUntilNextTimer(now: 1093) == 7)
    }

    @Test func theNextTimerIsFoundAfterTheNearestIsCancelled() {
        // 64 buckets of 10 ms: one turn is 640 ms.
        let wheel = TimerWheel(capacity: 8, buckets: 64, resolutionMilliseconds: 10, nowMilliseconds: 1000)
        let near = wheel.schedule(atMilliseconds: 1300, token: 1)
        _ = wheel.schedule(atMilliseconds: 1000 + 640 + 100, token: 2)   // more than a turn out, in an earlier bucket
        #expect(wheel.millisecondsUntilNextTimer(now: 1000) == 100)      // the far timer's bucket comes round first
        _ = wheel.schedule(atMilliseconds: 1050, token: 3)
        #expect(wheel.millisecondsUntilNextTimer(now: 1000) == 50)       // a nearer one lowers the bound
        wheel.cancel(near)
        #expect(wheel.millisecondsUntilNextTimer(now: 1000) == 50)
        var fired: [UInt64] = []
        wheel.advance(toMilliseconds: 1060) { fired.append($0) }
        #expect(fired == [3])
        // Only the far timer is left: found from its bucket, not by waking every tick.
        #expect(wheel.millisecondsUntilNextTimer(now: 1060) == 40)
        wheel.advance(toMilliseconds: 1100) { fired.append($0) }
        #expect(fired == [3])                                             // its bucket, not its turn yet
        #expect(wheel.millisecondsUntilNextTimer(now: 1100) == 640)       // the bucket again, one turn on
        wheel.advance(toMilliseconds: 1740) { fired.append($0) }
        #expect(fired == [3, 2])
        #expect(wheel.millisecondsUntilNextTimer(now: 1740) == nil)
    }

    @Test func aCancelledBoundDoesNotHideTimersInEarlierBuckets() {
        // 64 buckets of 10 ms. The search remembers tick 130 as the earliest.
        let wheel = TimerWheel(capacity: 8, buckets: 64, resolutionMilliseconds: 10, nowMilliseconds: 1000)
        let bound = wheel.schedule(atMilliseconds: 1300, token: 1)
        #expect(wheel.millisecondsUntilNextTimer(now: 1000) == 300)
        // Tick 319, bucket 63: at tick 125 its bucket comes round at tick 127, before the bound.
        _ = wheel.schedule(atMilliseconds: 3190, token: 2)
        #expect(wheel.millisecondsUntilNextTimer(now: 1250) == 50)
        wheel.cancel(bound)
        // From the cancelled bound (ticks 130–189) there is nothing; the search must go back to
        // tick 126, not give up and wake every tick.
        #expect(wheel.millisecondsUntilNextTimer(now: 1250) == 20)
    }

    @Test func timersNeverFireEarlierThanAsked() {
        let wheel = TimerWheel(capacity: 8, buckets: 64, resolutionMilliseconds: 10, nowMilliseconds: 1000)
        _ = wheel.schedule(atMilliseconds: 1001, token: 1)
        var fired: [UInt64] = []
        wheel.advance(toMilliseconds: 1005) { fired.append($0) }
        #expect(fired.isEmpty)
        wheel.advance(toMilliseconds: 1010) { fired.append($0) }
        #expect(fired == [1])
    }
}
