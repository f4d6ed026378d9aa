import Wire

/// At most `limit` requests per second per client MAC, so one broken client in a retry loop
/// cannot starve the rest. A fixed table (no allocation): a slot per MAC hash; two MACs that
/// share a slot share a budget, which errs toward answering.
struct MACRateLimiter {
    private var macs = [UInt64](repeating: UInt64.max, count: 4096)
    private var seconds = [UInt64](repeating: 0, count: 4096)
    private var counts = [UInt32](repeating: 0, count: 4096)

    mutating func allow(_ mac: MACAddress, now: UInt64, limit: UInt32) -> Bool {
        guard limit > 0 else { return true }
        let slot = Int(truncatingIfNeeded: (mac.value &* 0x9E37_79B9_7F4A_7C15) >> 52)
        if macs[slot] != mac.value || seconds[slot] != now {
            macs[slot] = mac.value
            seconds[slot] = now
            counts[slot] = 0
        }
        counts[slot] += 1
        return counts[slot] <= limit
    }
}
