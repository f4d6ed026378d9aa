/// How long the ring may wait for company once a datagram is ready (io_uring's
/// `min_wait_usec`), so a steady stream of requests costs one wake-up per batch, not one per
/// packet.
///
/// Each UDP socket carries a budget, `UDPSocketOptions.waitBudgetMicroseconds`: how long its
/// datagrams may be held. A DHCP client retransmits after seconds and an ACK already waits for
/// the journal's group commit, so milliseconds cost it nothing; a TFTP transfer in lock-step
/// would pay the wait on every block, so its sockets have none. The window is the smallest
/// budget among the sockets that received during the last period, capped by
/// `RingConfiguration.coalesceMicroseconds`, and no longer than `targetCompany` arrivals take
/// at that period's rate: the busier the ring, the shorter the hold. It is 0 unless the rate
/// promises at least `minimumCompany` datagrams within the budget: light traffic is never
/// held, and a wait that would catch nobody buys nothing.
struct BatchingWindow {
    static let periodMilliseconds: UInt64 = 250
    static let minimumCompany: UInt64 = 2
    static let targetCompany: UInt64 = 16

    /// The configured ceiling (0: batched waiting off).
    let cap: UInt32
    /// The current window, microseconds (0: handle each completion at once).
    private(set) var microseconds: UInt32 = 0
    private var periodStart: UInt64
    private var arrivals: UInt64 = 0
    private var lowestBudget: UInt32 = .max

    init(cap: UInt32, now: UInt64) {
        self.cap = cap
        periodStart = now
    }

    /// A datagram arrived on a socket with this budget. A less patient socket shrinks the
    /// window at once rather than at the end of the period.
    @inline(__always)
    mutating func noteArrival(budget: UInt32) {
        arrivals &+= 1
        if budget < lowestBudget { lowestBudget = budget }
        if budget < microseconds { microseconds = budget }
    }

    /// Called once per batch: at the end of each period, the window for the next one.
    @inline(__always)
    mutating func advance(now: UInt64) {
        let elapsed = now &- periodStart
        guard elapsed >= Self.periodMilliseconds else { return }
        let budget = UInt64(min(cap, lowestBudget))
        let elapsedMicroseconds = elapsed &* 1000
        // Datagrams expected within the budget at the last period's rate.
        if arrivals > 0, arrivals &* budget / elapsedMicroseconds >= Self.minimumCompany {
            microseconds = UInt32(min(budget, Self.targetCompany &* elapsedMicroseconds / arrivals))
        } else {
            microseconds = 0
        }
        periodStart = now
        arrivals = 0
        lowestBudget = .max
    }

    /// Batched waiting refused by the kernel (before Linux 6.12): off for good.
    mutating func disable() {
        self = BatchingWindow(cap: 0, now: periodStart)
    }
}
