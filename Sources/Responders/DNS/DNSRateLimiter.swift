/// Response-rate limiting per source /24 (the idea of BIND's RRL, simplified): a token bucket
/// per prefix in a fixed table, so a flood of spoofed queries cannot turn the rack into an
/// amplifier. Over the limit, every `slip`-th response goes out as an empty truncated answer —
/// a real client then retries over TCP, which cannot be spoofed — and the rest are dropped.
///
/// Buckets live in a fixed open table indexed by a hash of the prefix; two prefixes that land
/// on the same bucket share it, which can only make the limit stricter.
public struct DNSRateLimiter {
    public enum Decision { case answer, slip, drop }

    struct Bucket {
        var prefix: UInt32 = 0
        var tokens: Int32 = 0
        var refilledAt: UInt64 = 0
        var overflows: UInt32 = 0
    }

    var buckets: [Bucket]
    let mask: Int
    public var slip: UInt32 = 2

    public init(buckets: Int = 4096) {
        var capacity = 1
        while capacity < buckets { capacity <<= 1 }
        self.buckets = Array(repeating: Bucket(), count: capacity)
        mask = capacity - 1
    }

    /// Spends a token of `source`'s /24 at `now` (milliseconds); `perSecond` 0 never limits.
    @inline(__always)
    public mutating func decide(source: UInt32, perSecond: UInt32, now: UInt64) -> Decision {
        guard perSecond > 0 else { return .answer }
        let prefix = source & 0xFFFF_FF00
        let index = Int(truncatingIfNeeded: ((prefix >> 8) &* 0x9E37_79B1) >> 20) & mask
        let limit = Int32(clamping: perSecond)
        if buckets[index].prefix != prefix {
            buckets[index] = Bucket(prefix: prefix, tokens: limit, refilledAt: now, overflows: 0)
        } else if now > buckets[index].refilledAt {
            // Refill in proportion to the time since the last refill, up to one second's worth.
            let elapsed = now - buckets[index].refilledAt
            let refill = Int64(elapsed) * Int64(limit) / 1000
            if refill > 0 {
                buckets[index].tokens = Int32(min(Int64(limit), Int64(buckets[index].tokens) + refill))
                buckets[index].refilledAt = now
            }
        }
        if buckets[index].tokens > 0 {
            buckets[index].tokens -= 1
            return .answer
        }
        buckets[index].overflows &+= 1
        return slip > 0 && buckets[index].overflows % slip == 0 ? .slip : .drop
    }
}
