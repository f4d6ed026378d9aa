import Wire

/// One thing the service must do for a transfer, in the order a step lists them.
public enum TFTPTransferAction: Equatable, Sendable {
    /// Send an OACK listing exactly these options (RFC 2347).
    case sendOptionAcknowledgement(TFTPOptionValues)
    /// Send DATA `block` (the wire number, already wrapped past 65535): the 4-byte header
    /// (`TFTPDatagramWriter`) followed by `length` bytes of the file from `offset`.
    case sendData(block: UInt16, offset: UInt64, length: Int)
    /// Send ERROR `code` with `message` (RFC 1350 §5). Not acknowledged, not retransmitted.
    case sendError(TFTPErrorCode, message: StaticString)
    /// The final block was acknowledged: close the transfer's socket.
    case finished
    /// The transfer is over without success: close its socket and count `reason`.
    case abort(TFTPAbortReason)

    public static func == (lhs: TFTPTransferAction, rhs: TFTPTransferAction) -> Bool {
        switch (lhs, rhs) {
        case (.sendOptionAcknowledgement(let a), .sendOptionAcknowledgement(let b)): a == b
        case (.sendData(let a, let o, let l), .sendData(let b, let p, let m)): a == b && o == p && l == m
        case (.sendError(let a, let m), .sendError(let b, let n)):
            a == b && m.utf8CodeUnitCount == n.utf8CodeUnitCount
                && UnsafeRawBufferPointer(start: m.utf8Start, count: m.utf8CodeUnitCount)
                    .elementsEqual(UnsafeRawBufferPointer(start: n.utf8Start, count: n.utf8CodeUnitCount))
        case (.finished, .finished): true
        case (.abort(let a), .abort(let b)): a == b
        default: false
        }
    }

    /// The file bytes a `.sendData` carries after its header; nil for every other action.
    public var fileRange: Range<UInt64>? {
        guard case .sendData(_, let offset, let length) = self else { return nil }
        return offset..<offset + UInt64(length)
    }
}

/// Why a transfer ended without success. Stable names: they label counters.
public enum TFTPAbortReason: Int, CaseIterable, Sendable {
    /// A write request (refused: this server only serves files).
    case writeRequest
    /// Mode "mail" (RFC 1350: obsolete, and meaningless for a read).
    case mailMode
    /// The client sent ERROR 8: it refused the OACK (RFC 2347).
    case optionsRefusedByClient
    /// The client sent any other ERROR.
    case clientError
    /// ACK of a block never sent.
    case acknowledgementOutOfRange
    /// RRQ, WRQ, DATA or OACK on the transfer's own port.
    case unexpectedPacket
    /// No progress after `maximumRetries` retransmissions.
    case timedOut

    public var name: String {
        switch self {
        case .writeRequest: "write_request"
        case .mailMode: "mail_mode"
        case .optionsRefusedByClient: "options_refused_by_client"
        case .clientError: "client_error"
        case .acknowledgementOutOfRange: "acknowledgement_out_of_range"
        case .unexpectedPacket: "unexpected_packet"
        case .timedOut: "timed_out"
        }
    }
}

/// Why a received packet changed nothing. Stable names: they label counters.
public enum TFTPIgnoredPacket: Int, CaseIterable, Sendable {
    /// Not a TFTP packet the codec accepts.
    case malformed
    /// An ACK of the last acknowledged block or an earlier one: never answered with a re-send
    /// (RFC 1123 §4.2.3.1, the Sorcerer's Apprentice Syndrome).
    case duplicateAcknowledgement
    /// Anything after the transfer finished or was aborted.
    case transferOver
}

/// Blocks `first ..< first + count` (64-bit counters, 1 = the first block) of a transfer of
/// `size` bytes in blocks of `blockSize`: a window to send, in order.
public struct TFTPDataWindow: Equatable, Sendable {
    public let first: UInt64
    public let count: Int
    public let blockSize: Int
    public let size: UInt64

    /// The `.sendData` action for block `n` (a 64-bit counter inside the window).
    @inlinable
    public func action(forBlock n: UInt64) -> TFTPTransferAction {
        let offset = (n - 1) * UInt64(blockSize)
        let length = Int(min(UInt64(blockSize), size - offset))
        return .sendData(block: UInt16(truncatingIfNeeded: n), offset: offset, length: length)
    }
}

/// What one input (start, a packet, the timer) made a transfer do: an optional control packet
/// (OACK or ERROR), then a window of DATA blocks, then an ending, in that order, plus when to
/// call `timerFired` next. A `Sequence` of actions that stores only ranges, so a window of 64
/// blocks costs no allocation.
public struct TFTPTransferStep: Sequence, Equatable, Sendable {
    public internal(set) var control: TFTPTransferAction?
    public internal(set) var window: TFTPDataWindow?
    public internal(set) var ending: TFTPTransferAction?
    /// When to call `timerFired`, in the clock's milliseconds; nil once the transfer is over.
    public internal(set) var deadline: UInt64?
    /// Set when the input was a packet that changed nothing.
    public internal(set) var ignored: TFTPIgnoredPacket?

    init(control: TFTPTransferAction? = nil, window: TFTPDataWindow? = nil, ending: TFTPTransferAction? = nil,
         deadline: UInt64?, ignored: TFTPIgnoredPacket? = nil) {
        self.control = control
        self.window = window
        self.ending = ending
        self.deadline = deadline
        self.ignored = ignored
    }

    /// True when the step sends nothing and ends nothing.
    public var isEmpty: Bool { control == nil && (window?.count ?? 0) == 0 && ending == nil }

    /// The actions as an array (tests, logging).
    public var actions: [TFTPTransferAction] { Array(self) }

    public struct Iterator: IteratorProtocol {
        let step: TFTPTransferStep
        var position = 0

        public mutating func next() -> TFTPTransferAction? {
            let blocks = step.window?.count ?? 0
            while position < blocks + 2 {
                defer { position += 1 }
                if position == 0 {
                    if let control = step.control { return control }
                } else if position <= blocks, let window = step.window {
                    return window.action(forBlock: window.first + UInt64(position - 1))
                } else if position == blocks + 1, let ending = step.ending {
                    return ending
                }
            }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(step: self) }

    public var underestimatedCount: Int {
        (control == nil ? 0 : 1) + (window?.count ?? 0) + (ending == nil ? 0 : 1)
    }
}
