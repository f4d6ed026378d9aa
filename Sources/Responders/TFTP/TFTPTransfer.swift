import Wire

/// One read transfer (RRQ) as a value-type state machine: each input — `start`, `received`,
/// `timerFired` — returns a `TFTPTransferStep` naming the packets to send and the next timer
/// deadline. No I/O, no clock of its own (milliseconds come in with each input), no copy of the
/// file: DATA actions name offsets into it.
///
/// Blocks are counted in 64 bits (1 = the first block); the wire carries the counter modulo
/// 65536, so block 65536 goes out as 0 and the transfer carries on (what tftp-hpa, curl, iPXE
/// and atftp expect). The file of `size` bytes takes `size / blockSize + 1` blocks, the last one
/// short — empty when the size is a multiple of the block size (RFC 1350 §6: "A data packet of
/// less than 512 bytes signals termination of a transfer").
///
/// The service keeps one per transfer socket (TID), checks that packets come from the client's
/// address and port before calling `received` (RFC 1350 §4: a stranger gets ERROR 5, the
/// transfer is untouched), performs the actions, and arms its timer wheel with `deadline`.
public struct TFTPTransfer: Sendable {
    public enum Phase: Equatable, Sendable {
        /// Created; `start` not called yet.
        case idle
        /// OACK sent, waiting for ACK 0 (RFC 2347).
        case awaitingOptionAcknowledgement
        case sending
        case finished
        case aborted(TFTPAbortReason)
    }

    public let mode: TFTPMode
    /// Bytes to send: the file's size (octet) or its converted size (netascii, see `TFTPNetascii`).
    public let size: UInt64
    public let blockSize: Int
    public let windowSize: Int
    /// The options granted; the OACK lists exactly these. Empty: no OACK, DATA 1 first.
    public let acceptedOptions: TFTPOptionValues
    /// The retransmission timeout backoff starts from, in milliseconds.
    public let baseTimeout: UInt64
    public let limits: TFTPTransferLimits
    let refusal: (TFTPErrorCode, StaticString, TFTPAbortReason)?

    public private(set) var phase: Phase = .idle
    /// The highest block acknowledged (0: none).
    public private(set) var acknowledged: UInt64 = 0
    /// The highest block sent (0: none).
    public private(set) var sent: UInt64 = 0
    /// Retransmissions since the last progress.
    public private(set) var retries = 0
    /// The current retransmission timeout, doubled on each expiry.
    public private(set) var timeout: UInt64
    public private(set) var deadline: UInt64?

    /// The final block's 64-bit number.
    public var lastBlock: UInt64 { size / UInt64(blockSize) + 1 }

    /// Negotiates `request`'s options for a file of `size` bytes (for netascii, the size of the
    /// converted image). A WRQ or mode "mail" makes a transfer whose `start` refuses it.
    public init(request: TFTPRequest, size: UInt64, limits: TFTPTransferLimits = TFTPTransferLimits()) {
        self.mode = request.mode
        self.size = size
        self.limits = limits
        if request.opcode == .writeRequest {
            // RFC 1350 lists "Access violation" (2) for a transfer the server will not allow;
            // "Illegal TFTP operation" (4) is for packets the protocol does not allow, and a
            // WRQ is a legal packet. tftp-hpa without -c answers a WRQ with 2 as well.
            refusal = (.accessViolation, "write requests refused", .writeRequest)
        } else if request.mode == .mail {
            // RFC 1350: mail mode "is obsolete and should not be implemented or used"; it only
            // ever meant delivering a WRQ to a user.
            refusal = (.illegalOperation, "mail mode not supported", .mailMode)
        } else {
            refusal = nil
        }
        let accepted = refusal == nil
            ? Self.negotiate(request.options, mode: request.mode, size: size, limits: limits)
            : TFTPOptionValues()
        self.acceptedOptions = accepted
        self.blockSize = Int(accepted.blockSize ?? 512)
        self.windowSize = Int(accepted.windowSize ?? 1)
        self.baseTimeout = accepted.timeout.map { UInt64($0) * 1000 } ?? limits.defaultTimeout
        self.timeout = baseTimeout
    }

    /// The options to grant, one by one. RFC 2347: "Options not acknowledged by the server must
    /// be ignored by the client and server as if they were never requested", so a value this
    /// server cannot honour is left out of the OACK rather than failing the transfer with
    /// ERROR 8; unknown options are ignored the same way.
    static func negotiate(_ options: TFTPOptions, mode: TFTPMode, size: UInt64, limits: TFTPTransferLimits) -> TFTPOptionValues {
        var accepted = TFTPOptionValues()
        if let option = options.first(named: "blksize"), let v = ASCII.decimal(option.value), v >= 8 {
            // RFC 2348: "The specified value must be less than or equal to the value specified
            // by the client", so a request above 65464 or above what the path carries is cut
            // down; one below 8 cannot be answered and is not acknowledged.
            accepted.blockSize = UInt16(min(v, UInt64(limits.maximumBlockSize)))
        }
        if let option = options.first(named: "tsize"), ASCII.decimal(option.value) != nil, mode == .octet {
            // RFC 2349: "the size of the file, in octets, is returned in the OACK". In netascii
            // the octets on the wire are not the file's, so (like tftp-hpa) it is not offered.
            accepted.transferSize = size
        }
        if let option = options.first(named: "timeout"), let v = ASCII.decimal(option.value), (1...255).contains(v) {
            // RFC 2349: "The specified timeout value must match the value specified by the
            // client" — granted as asked or not at all.
            accepted.timeout = UInt8(v)
        }
        if let option = options.first(named: "windowsize"), let v = ASCII.decimal(option.value), v >= 1 {
            // RFC 7440 lets the server answer with a smaller window than the client asked for.
            accepted.windowSize = UInt16(min(v, UInt64(limits.maximumWindowSize)))
        }
        return accepted
    }

    /// The first step: an ERROR for a refused request, an OACK if any option was granted
    /// (RFC 2347: then wait for ACK 0), otherwise the first window — DATA 1 alone, since
    /// without an OACK there is no window size.
    public mutating func start(now: UInt64) -> TFTPTransferStep {
        guard phase == .idle else { return TFTPTransferStep(deadline: deadline) }
        if let (code, message, reason) = refusal {
            return abort(reason, error: (code, message))
        }
        deadline = now + timeout
        if acceptedOptions.isEmpty {
            phase = .sending
            return TFTPTransferStep(window: nextWindow(after: 0), deadline: deadline)
        }
        phase = .awaitingOptionAcknowledgement
        return TFTPTransferStep(control: .sendOptionAcknowledgement(acceptedOptions), deadline: deadline)
    }

    /// A datagram from the client (already checked to come from its TID).
    public mutating func received(_ bytes: UnsafeRawBufferPointer, now: UInt64) -> TFTPTransferStep {
        let packet: TFTPPacket
        do {
            packet = try TFTPPacket.parse(bytes)
        } catch {
            guard isLive else { return TFTPTransferStep(deadline: nil, ignored: .transferOver) }
            return TFTPTransferStep(deadline: deadline, ignored: .malformed)
        }
        return received(packet, now: now)
    }

    /// A parsed packet from the client.
    public mutating func received(_ packet: TFTPPacket, now: UInt64) -> TFTPTransferStep {
        guard isLive else { return TFTPTransferStep(deadline: nil, ignored: .transferOver) }
        switch packet {
        case .acknowledgement(let block):
            return acknowledgement(block, now: now)
        case .error(let error):
            // RFC 1350 §7: an ERROR is not acknowledged; the transfer just ends.
            return abort(error.code == TFTPErrorCode.optionNegotiationFailed.rawValue ? .optionsRefusedByClient : .clientError)
        case .readRequest, .writeRequest, .data, .optionAcknowledgement:
            return abort(.unexpectedPacket, error: (.illegalOperation, "unexpected packet"))
        }
    }

    /// The timer armed with `deadline` went off (early calls change nothing). Resends what is
    /// unacknowledged with the timeout doubled, up to `maximumRetries` times; then the transfer
    /// is stalled and ends without an ERROR (the client is most likely gone).
    public mutating func timerFired(now: UInt64) -> TFTPTransferStep {
        guard isLive, let due = deadline else { return TFTPTransferStep(deadline: isLive ? deadline : nil) }
        guard now >= due else { return TFTPTransferStep(deadline: due) }
        guard retries < limits.maximumRetries else { return abort(.timedOut) }
        retries += 1
        timeout = min(timeout * 2, max(limits.maximumTimeout, baseTimeout))
        deadline = now + timeout
        if phase == .awaitingOptionAcknowledgement {
            return TFTPTransferStep(control: .sendOptionAcknowledgement(acceptedOptions), deadline: deadline)
        }
        // RFC 7440: on a timeout the sender retransmits the window from the first
        // unacknowledged block.
        let window = TFTPDataWindow(first: acknowledged + 1, count: Int(sent - acknowledged), blockSize: blockSize, size: size)
        return TFTPTransferStep(window: window, deadline: deadline)
    }

    public var isLive: Bool {
        phase == .idle || phase == .awaitingOptionAcknowledgement || phase == .sending
    }

    // MARK: ACK

    private mutating func acknowledgement(_ block: UInt16, now: UInt64) -> TFTPTransferStep {
        switch phase {
        case .idle:
            return TFTPTransferStep(deadline: deadline, ignored: .malformed)
        case .awaitingOptionAcknowledgement:
            // RFC 2347: for a read, "an ACK (with the data block number set to 0) is sent by the
            // client to confirm the values in the server's OACK packet".
            guard block == 0 else { return outOfRange() }
            return progress(to: 0, now: now)
        case .sending:
            // Where `block` lies relative to the last acknowledged block, modulo 65536:
            // 1…outstanding ahead is progress; 0 is a duplicate; otherwise the nearer reading
            // wins — behind (an old ACK, ignored) or ahead of anything sent (an error).
            let outstanding = sent - acknowledged
            let ahead = UInt64(block &- UInt16(truncatingIfNeeded: acknowledged))
            if ahead == 0 {
                return TFTPTransferStep(deadline: deadline, ignored: .duplicateAcknowledgement)
            }
            if ahead <= outstanding {
                return progress(to: acknowledged + ahead, now: now)
            }
            let behind = 65536 - ahead
            if ahead >= 0x8000, behind <= acknowledged {
                return TFTPTransferStep(deadline: deadline, ignored: .duplicateAcknowledgement)
            }
            return outOfRange()
        case .finished, .aborted:
            return TFTPTransferStep(deadline: nil, ignored: .transferOver)
        }
    }

    /// Block `n` (0: the OACK) is acknowledged: finish, or send the next window starting after
    /// it. RFC 7440 §4: an ACK for a block short of the window's end means the client lost what
    /// followed, and the sender starts a new window at the block after the one acknowledged —
    /// so a partial ACK resends, but only once per ACK that makes progress; duplicates never do
    /// (RFC 1123 §4.2.3.1).
    private mutating func progress(to n: UInt64, now: UInt64) -> TFTPTransferStep {
        phase = .sending
        acknowledged = n
        retries = 0
        timeout = baseTimeout
        if n == lastBlock {
            phase = .finished
            deadline = nil
            return TFTPTransferStep(ending: .finished, deadline: nil)
        }
        deadline = now + timeout
        return TFTPTransferStep(window: nextWindow(after: n), deadline: deadline)
    }

    private mutating func nextWindow(after n: UInt64) -> TFTPDataWindow {
        let end = min(n + UInt64(windowSize), lastBlock)
        sent = end
        return TFTPDataWindow(first: n + 1, count: Int(end - n), blockSize: blockSize, size: size)
    }

    private mutating func outOfRange() -> TFTPTransferStep {
        abort(.acknowledgementOutOfRange, error: (.illegalOperation, "acknowledgement of a block not sent"))
    }

    private mutating func abort(_ reason: TFTPAbortReason, error: (TFTPErrorCode, StaticString)? = nil) -> TFTPTransferStep {
        phase = .aborted(reason)
        deadline = nil
        return TFTPTransferStep(control: error.map { .sendError($0.0, message: $0.1) }, ending: .abort(reason), deadline: nil)
    }
}
