import CLinuxShims
import Glibc

/// A level-triggered epoll set whose registrations carry a 64-bit token, and the timer queue
/// the load generator's single thread runs on. Plain sockets, no protocol knowledge.
final class EventPoll {
    private let fd: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    private let capacity = 1024

    init() throws(FleetSystemError) {
        fd = try FleetSystem.call("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        events = .allocate(capacity: capacity)
        events.initialize(repeating: epoll_event(), count: capacity)
    }

    deinit {
        events.deallocate()
        close(fd)
    }

    static let readable = EPOLLIN.rawValue
    static let writable = EPOLLOUT.rawValue

    func add(_ descriptor: Int32, token: UInt64, events mask: UInt32) throws(FleetSystemError) {
        try control(EPOLL_CTL_ADD, descriptor, token: token, events: mask)
    }

    func modify(_ descriptor: Int32, token: UInt64, events mask: UInt32) throws(FleetSystemError) {
        try control(EPOLL_CTL_MOD, descriptor, token: token, events: mask)
    }

    /// Closing a descriptor removes it from the set as well; this is for one that stays open.
    func remove(_ descriptor: Int32) {
        _ = epoll_ctl(fd, EPOLL_CTL_DEL, descriptor, nil)
    }

    private func control(_ operation: Int32, _ descriptor: Int32, token: UInt64, events mask: UInt32) throws(FleetSystemError) {
        var event = epoll_event()
        event.events = mask
        event.data.u64 = token
        _ = try FleetSystem.call("epoll_ctl") { epoll_ctl(fd, operation, descriptor, &event) }
    }

    /// Waits up to `milliseconds` and calls `body` with each ready token and its events.
    func wait(milliseconds: Int32, _ body: (UInt64, UInt32) -> Void) {
        let ready = epoll_wait(fd, events, Int32(capacity), milliseconds)
        guard ready > 0 else { return }
        for i in 0..<Int(ready) {
            body(events[i].data.u64, events[i].events)
        }
    }
}

/// A min-heap of (deadline, slot) with lazy deletion: a slot has at most one live entry, the
/// one whose time equals `armed[slot]`; others are skipped when they surface. Pushing happens
/// only when a deadline moves earlier, so a deadline pushed later (every TFTP block) costs
/// nothing until the old entry fires and is re-armed.
struct DeadlineQueue {
    private var heap: [(at: UInt64, slot: Int)] = []
    private var armed: [UInt64]
    private(set) var deadline: [UInt64]

    init(slots: Int) {
        armed = Array(repeating: 0, count: slots)
        deadline = Array(repeating: 0, count: slots)
    }

    /// Sets `slot`'s deadline (0 cancels it).
    mutating func schedule(_ slot: Int, at time: UInt64) {
        deadline[slot] = time
        guard time != 0 else { return }
        if armed[slot] == 0 || time < armed[slot] {
            armed[slot] = time
            push((time, slot))
        }
    }

    /// The earliest armed time, if any (may be stale; harmless: the loop wakes and finds nothing).
    var earliest: UInt64? { heap.first?.at }

    /// Appends to `due` every slot whose deadline has passed by `now`, in time order, and
    /// disarms them (the caller handles them after, free to schedule again).
    mutating func expired(now: UInt64, into due: inout [Int]) {
        while let top = heap.first, top.at <= now {
            pop()
            guard armed[top.slot] == top.at else { continue }
            armed[top.slot] = 0
            let when = deadline[top.slot]
            if when == 0 { continue }
            if when > now {
                armed[top.slot] = when
                push((when, top.slot))
                continue
            }
            deadline[top.slot] = 0
            due.append(top.slot)
        }
    }

    private mutating func push(_ entry: (at: UInt64, slot: Int)) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].at < heap[parent].at else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func pop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            var smallest = left
            if left + 1 < heap.count, heap[left + 1].at < heap[left].at { smallest = left + 1 }
            guard heap[smallest].at < heap[parent].at else { break }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
