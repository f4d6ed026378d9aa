import Histogram

/// The steps of a network boot, in the order a machine takes them.
public enum Stage: String, CaseIterable, Sendable, Comparable {
    case dhcp, tftp, http, dns

    public static func < (lhs: Stage, rhs: Stage) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Latency, outcomes and bytes of one stage over the whole run.
public struct StageStatistics: Sendable {
    /// Microseconds, 1 µs to one hour, three significant digits.
    public var latency = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    public var succeeded = 0
    /// Machines that did not need the stage (an iPXE machine given a script URL skips TFTP).
    public var skipped = 0
    public var failures: [String: Int] = [:]
    /// Exchanges started over within the stage (DHCP after a NAK), not failures by themselves.
    public var restarts = 0
    public var bytes: UInt64 = 0
    /// Exchanges: DORAs, transfers, HTTP responses, DNS answers.
    public var operations = 0
    /// From the first machine entering the stage to the last one leaving it (nanoseconds on
    /// the monotonic clock): throughput is counted over this span, not the whole run.
    public var firstEntered: UInt64 = 0
    public var lastLeft: UInt64 = 0

    /// Seconds the stage was busy (first entry to last exit).
    public var spanSeconds: Double { lastLeft > firstEntered ? Double(lastLeft - firstEntered) / 1e9 : 0 }

    public var failed: Int { failures.values.reduce(0, +) }

    mutating func recordSuccess(microseconds: UInt64, bytes: UInt64 = 0, operations: Int = 1) {
        _ = latency.record(max(1, min(microseconds, 3_600_000_000)))
        succeeded += 1
        self.bytes += bytes
        self.operations += operations
    }
}

/// Everything a load run measured; `LoadReport` turns it into text or JSON.
public struct LoadStatistics: Sendable {
    public var requested = 0
    public var started = 0
    public var booted = 0
    public var failed = 0
    public var stages: [Stage: StageStatistics] = Dictionary(uniqueKeysWithValues: Stage.allCases.map { ($0, StageStatistics()) })
    /// Whole boots, first DISCOVER to last stage, in microseconds.
    public var boot = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    public var bootedByFirmware: [Firmware: Int] = [:]
    public var failedByFirmware: [Firmware: Int] = [:]
    /// Seconds from the start of the run to its end.
    public var wallSeconds = 0.0
    /// Seconds from the first arrival to the last machine booted (nil if none booted).
    public var allBootedSeconds: Double?
    /// Up to 20 failures in words, for the report.
    public var failureSamples: [String] = []
    /// How the stages after DHCP chose their source address.
    public var sourceAddresses = "leased"
    /// Why the run ended before every machine was done ("deadline", "interrupted"), if it did.
    public var stoppedBy: String?

    public var notStarted: Int { requested - started }
}

/// A moment of a run, for the progress bar.
public struct LoadProgress: Sendable {
    public var elapsedSeconds: Double
    public var requested: Int
    public var started: Int
    public var booted: Int
    public var failed: Int
    /// Machines in each stage now.
    public var inStage: [Stage: Int]
    /// TFTP and HTTP payload bytes received so far.
    public var bytes: UInt64
}
