import CLinuxShims

/// SIGINT, SIGTERM and SIGHUP turned into a flag the load loop polls between batches, so Ctrl-C
/// ends a run with its report instead of killing it (CLinuxShims' pipe-writing handler).
public enum StopSignals {
    public static func install() {
        _ = rp_signals_install()
    }

    /// The signal caught since the last call, if any; never blocks.
    public static func pending() -> Int32? {
        let signal = rp_signals_wait(0)
        return signal == 0 ? nil : signal
    }
}
