/// Server-side bounds on what a transfer may negotiate and how patiently it retransmits.
public struct TFTPTransferLimits: Equatable, Sendable {
    /// The largest UDP payload that leaves without IP fragmentation on the path to the client
    /// (IPv4: MTU − 20 − 8). A DATA packet is 4 bytes of header plus the block.
    public var maximumPayload: Int
    /// The largest `windowsize` granted (RFC 7440 lets the server answer a smaller value).
    public var maximumWindowSize: UInt16
    /// Retransmission timeout when the client asked for none, in milliseconds.
    public var defaultTimeout: UInt64
    /// The backoff stops doubling here (or at the client's own timeout, if larger).
    public var maximumTimeout: UInt64
    /// Retransmissions of one window before the transfer is declared stalled.
    public var maximumRetries: Int

    public init(maximumPayload: Int = 1472, maximumWindowSize: UInt16 = 64, defaultTimeout: UInt64 = 1000,
                maximumTimeout: UInt64 = 8000, maximumRetries: Int = 5) {
        self.maximumPayload = maximumPayload
        self.maximumWindowSize = max(1, maximumWindowSize)
        self.defaultTimeout = max(1, defaultTimeout)
        self.maximumTimeout = maximumTimeout
        self.maximumRetries = maximumRetries
    }

    /// Limits for an IPv4 path of `pathMTU` bytes: blocks of at most MTU − 20 − 8 − 4 (1468 on
    /// Ethernet).
    public static func ipv4(pathMTU: Int, maximumWindowSize: UInt16 = 64) -> TFTPTransferLimits {
        TFTPTransferLimits(maximumPayload: pathMTU - 20 - 8, maximumWindowSize: maximumWindowSize)
    }

    /// The largest `blksize` granted: what fits the payload, within RFC 2348's 8–65464.
    public var maximumBlockSize: Int { min(65464, max(8, maximumPayload - 4)) }
}
