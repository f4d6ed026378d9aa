/// A hashed timing wheel: thousands of timers without a heap allocation each.
///
/// Timers live in a node array that is allocated up front (and doubled only if exhausted);
/// each wheel bucket is an intrusive doubly-linked list of node indices, so scheduling and
/// cancelling are O(1). One tick is `resolutionMilliseconds`; a timer further out than one turn
/// of the wheel stays in its bucket until its deadline comes round. The ring waits for the next
/// non-empty tick with a single ring timeout, not one per timer.
final class TimerWheel {
    private struct Node {
        var deadline: UInt64 = 0       // in ticks
        var token: UInt64 = 0
        var next: Int32 = -1
        var previous: Int32 = -1
        var bucket: Int32 = -1         // -1: free
        var generation: UInt32 = 0
    }

    let resolutionMilliseconds: UInt64
    private var nodes: [Node]
    private var freeList: [Int32]
    private var heads: [Int32]
    private let mask: UInt64
    private(set) var currentTick: UInt64
    private(set) var scheduled = 0
    /// No timer is due before this tick (a lower bound, kept on schedule and by each search),
    /// so finding the next one does not re-scan empty buckets: with only 30 s idle timers the
    /// search had walked ~3,000 buckets on every turn of the ring.
    private var earliestTick: UInt64 = 0

    init(capacity: Int = 16_384, buckets: Int = 4096, resolutionMilliseconds: UInt64 = 10, nowMilliseconds: UInt64) {
        precondition(buckets & (buckets - 1) == 0, "bucket count is a power of two")
        self.resolutionMilliseconds = resolutionMilliseconds
        nodes = Array(repeating: Node(), count: capacity)
        freeList = (0..<Int32(capacity)).reversed().map { $0 }
        heads = Array(repeating: -1, count: buckets)
        mask = UInt64(buckets - 1)
        currentTick = nowMilliseconds / resolutionMilliseconds
    }

    func schedule(atMilliseconds deadline: UInt64, token: UInt64) -> TimerID {
        if freeList.isEmpty { grow() }
        let index = freeList.removeLast()
        // Round up, and never into the past: a timer fires at the earliest on the next tick.
        let tick = max((deadline + resolutionMilliseconds - 1) / resolutionMilliseconds, currentTick + 1)
        let bucket = Int32(truncatingIfNeeded: tick & mask)
        nodes[Int(index)].deadline = tick
        nodes[Int(index)].token = token
        nodes[Int(index)].bucket = bucket
        link(index, into: bucket)
        scheduled += 1
        if tick < earliestTick { earliestTick = tick }
        return TimerID(index: UInt32(index), generation: nodes[Int(index)].generation)
    }

    /// Cancels a timer; a timer that already fired or was cancelled is ignored.
    func cancel(_ id: TimerID) {
        let index = Int32(id.index)
        guard Int(index) < nodes.count, nodes[Int(index)].generation == id.generation, nodes[Int(index)].bucket >= 0 else { return }
        unlink(index)
        release(index)
    }

    /// Advances to `now` and calls `fire` with the token of every timer whose deadline passed.
    func advance(toMilliseconds now: UInt64, _ fire: (UInt64) -> Void) {
        let target = now / resolutionMilliseconds
        guard scheduled > 0 else {
            currentTick = max(currentTick, target)
            return
        }
        // Walk tick by tick, but at most one full turn: beyond that every bucket was visited.
        var tick = currentTick + 1
        let last = min(target, currentTick + mask + 1)
        while tick <= last, scheduled > 0 {
            let bucket = Int32(truncatingIfNeeded: tick & mask)
            var cursor = heads[Int(bucket)]
            while cursor >= 0 {
                let next = nodes[Int(cursor)].next
                if nodes[Int(cursor)].deadline <= target {
                    let token = nodes[Int(cursor)].token
                    unlink(cursor)
                    release(cursor)
                    fire(token)
                }
                cursor = next
            }
            tick += 1
        }
        currentTick = max(currentTick, target)
    }

    /// Milliseconds from `now` until the next tick that holds a timer, or nil when none is
    /// scheduled (the ring then waits without a timeout).
    func millisecondsUntilNextTimer(now: UInt64) -> UInt64? {
        guard scheduled > 0 else { return nil }
        let nowTick = now / resolutionMilliseconds
        // From the bound first; if that finds nothing (the timer that set it was cancelled and
        // the rest sit in earlier buckets, a turn or more away), once more over the whole turn.
        let start = max(nowTick + 1, earliestTick)
        if let tick = firstOccupiedTick(from: start, through: nowTick + mask + 1)
            ?? (start > nowTick + 1 ? firstOccupiedTick(from: nowTick + 1, through: start - 1) : nil) {
            earliestTick = tick
            return tick * resolutionMilliseconds - min(now, tick * resolutionMilliseconds)
        }
        return resolutionMilliseconds
    }

    private func firstOccupiedTick(from first: UInt64, through last: UInt64) -> UInt64? {
        var tick = first
        while tick <= last {
            if heads[Int(tick & mask)] >= 0 { return tick }
            tick += 1
        }
        return nil
    }

    private func link(_ index: Int32, into bucket: Int32) {
        let head = heads[Int(bucket)]
        nodes[Int(index)].previous = -1
        nodes[Int(index)].next = head
        if head >= 0 { nodes[Int(head)].previous = index }
        heads[Int(bucket)] = index
    }

    private func unlink(_ index: Int32) {
        let node = nodes[Int(index)]
        if node.previous >= 0 { nodes[Int(node.previous)].next = node.next } else { heads[Int(node.bucket)] = node.next }
        if node.next >= 0 { nodes[Int(node.next)].previous = node.previous }
    }

    private func release(_ index: Int32) {
        nodes[Int(index)].bucket = -1
        nodes[Int(index)].generation &+= 1
        freeList.append(index)
        scheduled -= 1
    }

    private func grow() {
        let old = nodes.count
        nodes.append(contentsOf: repeatElement(Node(), count: old))
        freeList.append(contentsOf: (Int32(old)..<Int32(2 * old)).reversed())
    }
}
