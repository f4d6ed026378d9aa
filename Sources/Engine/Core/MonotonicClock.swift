import Glibc

/// Milliseconds on CLOCK_MONOTONIC (a vDSO read, no system call). Read once per batch.
public enum MonotonicClock {
    @inline(__always)
    public static func milliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}
