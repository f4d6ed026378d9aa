/// Per-ring counters, written only by the ring's thread; readers (metrics) tolerate a torn
/// 64-bit read, which x86-64 does not produce for aligned words anyway.
public final class RingCounters: @unchecked Sendable {
    public var datagramsReceived: UInt64 = 0
    public var datagramsSent: UInt64 = 0
    public var datagramSendErrors: UInt64 = 0
    public var datagramsTruncated: UInt64 = 0
    /// The provided-buffer ring was empty (ENOBUFS): the receive was re-armed.
    public var receiveBuffersExhausted: UInt64 = 0
    /// A reply was dropped because every send slot was in flight.
    public var sendSlotsExhausted: UInt64 = 0
    public var framesSent: UInt64 = 0
    public var connectionsAccepted: UInt64 = 0
    public var connectionsRefused: UInt64 = 0
    public var connectionsClosed: UInt64 = 0
    public var streamBytesReceived: UInt64 = 0
    public var streamBytesSent: UInt64 = 0
    public var fileBytesSent: UInt64 = 0
    public var idleTimeouts: UInt64 = 0
    public var totalTimeouts: UInt64 = 0
    public var timersFired: UInt64 = 0
    /// The completion queue overflowed (the kernel kept the completions; we flushed them).
    public var completionOverflows: UInt64 = 0
    /// Submission returned EBUSY; completions were reaped before retrying.
    public var submitBusy: UInt64 = 0
    public var batches: UInt64 = 0
    /// Waits that used the batching window (`RingConfiguration.coalesceMicroseconds`).
    public var coalescedWaits: UInt64 = 0
    /// Sends that carried several datagrams (UDP GSO, `RingContext.sendSegmented`).
    public var segmentedSends: UInt64 = 0
    /// File ranges not wholly in the page cache, read into the pipe by an io_uring worker
    /// (the others are spliced on the ring thread).
    public var fileReadsQueued: UInt64 = 0

    public init() {}

    /// Name and value of every counter, for metrics and tests.
    public var all: [(String, UInt64)] {
        [("datagrams_received", datagramsReceived), ("datagrams_sent", datagramsSent),
         ("datagram_send_errors", datagramSendErrors), ("datagrams_truncated", datagramsTruncated),
         ("receive_buffers_exhausted", receiveBuffersExhausted), ("send_slots_exhausted", sendSlotsExhausted),
         ("frames_sent", framesSent), ("connections_accepted", connectionsAccepted),
         ("connections_refused", connectionsRefused), ("connections_closed", connectionsClosed),
         ("stream_bytes_received", streamBytesReceived), ("stream_bytes_sent", streamBytesSent),
         ("file_bytes_sent", fileBytesSent), ("idle_timeouts", idleTimeouts), ("total_timeouts", totalTimeouts),
         ("timers_fired", timersFired), ("completion_overflows", completionOverflows),
         ("submit_busy", submitBusy), ("batches", batches), ("coalesced_waits", coalescedWaits),
         ("segmented_sends", segmentedSends), ("file_reads_queued", fileReadsQueued)]
    }
}
