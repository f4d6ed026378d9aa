import Responders

/// Why a request on port 69 got no transfer. Stable names: they label counters.
enum TFTPRequestRefusal: Int, CaseIterable, Sendable {
    /// Not an RRQ or WRQ the codec accepts (or cut short by the receive buffer).
    case malformed
    case writeRequest
    case mailMode
    /// `TFTPPathResolver` refused the name (NUL, "..", too long, empty).
    case pathRefused
    /// The name leads out of the root through a symbolic link.
    case outsideRoot
    case fileNotFound
    case notRegularFile
    case permissionDenied
    /// open, fstat or mmap failed otherwise.
    case unreadable
    /// A boot-config name with nothing to serve.
    case noSuchConfig
    /// netascii of a file larger than `TFTPService.netasciiLimit`.
    case netasciiTooLarge
    /// No transfer socket could be opened (socket table full, no ephemeral port).
    case noTransferSocket
    /// An RRQ repeated by a client whose transfer from that port has not progressed yet.
    case duplicateRequest

    var name: String {
        switch self {
        case .malformed: "malformed"
        case .writeRequest: "write_request"
        case .mailMode: "mail_mode"
        case .pathRefused: "path_refused"
        case .outsideRoot: "outside_root"
        case .fileNotFound: "file_not_found"
        case .notRegularFile: "not_regular_file"
        case .permissionDenied: "permission_denied"
        case .unreadable: "unreadable"
        case .noSuchConfig: "no_such_config"
        case .netasciiTooLarge: "netascii_too_large"
        case .noTransferSocket: "no_transfer_socket"
        case .duplicateRequest: "duplicate_request"
        }
    }
}

/// One ring's TFTP counters, written only by the ring's thread; the metrics endpoint reads
/// them from another (as `RingCounters`: aligned 64-bit words, a stale value at worst).
final class TFTPCounters: @unchecked Sendable {
    var transfersStarted: UInt64 = 0
    var transfersFinished: UInt64 = 0
    /// Index `TFTPAbortReason.rawValue`.
    let transfersAborted = FixedCounters(TFTPAbortReason.allCases.count)
    /// Index `TFTPRequestRefusal.rawValue`.
    let requestsRefused = FixedCounters(TFTPRequestRefusal.allCases.count)
    /// Index `TFTPPathRefusal.rawValue` (the detail of `.pathRefused` and `.outsideRoot`).
    let pathsRefused = FixedCounters(TFTPPathRefusal.allCases.count)
    /// Index `TFTPIgnoredPacket.rawValue`.
    let packetsIgnored = FixedCounters(TFTPIgnoredPacket.allCases.count)
    var bootConfigsServed: UInt64 = 0
    /// File bytes sent in DATA packets, retransmissions included.
    var bytesSent: UInt64 = 0
    var dataPacketsSent: UInt64 = 0
    /// Retransmission timeouts (each resends the unacknowledged window or the OACK).
    var retransmissions: UInt64 = 0
    /// Packets on a transfer's port from anyone but its client (answered with ERROR 5).
    var unknownTransferIDs: UInt64 = 0
    /// DATA blocks not sent because every send slot was in flight (the timeout resends them).
    var slotsExhausted: UInt64 = 0
    var activeTransfers: Int = 0
}

/// Counters indexed by a reason, in memory that never moves: the owning ring increments in
/// place while the metrics endpoint reads from another thread. (An Array here would be
/// copy-on-write: a concurrent read could make the increment copy — an allocation on the hot
/// path — or race with the buffer's release.)
final class FixedCounters: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<UInt64>

    init(_ count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: 0)
    }

    deinit { storage.deallocate() }

    subscript(index: Int) -> UInt64 {
        get { storage[index] }
        set { storage[index] = newValue }
    }
}

extension MetricsText {
    /// The TFTP section: every ring's counters summed.
    static func renderTFTP(_ services: [TFTPService]) -> String {
        let all = services.map(\.counters)
        func sum(_ value: (TFTPCounters) -> UInt64) -> UInt64 { all.reduce(0) { $0 &+ value($1) } }
        var out = ""
        func metric(_ name: String, _ help: String, _ type: String = "counter") {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        metric("rackplane_tftp_transfers_started_total", "TFTP transfers started (a transfer socket opened).")
        out += "rackplane_tftp_transfers_started_total \(sum(\.transfersStarted))\n"
        metric("rackplane_tftp_transfers_finished_total", "TFTP transfers whose last block was acknowledged.")
        out += "rackplane_tftp_transfers_finished_total \(sum(\.transfersFinished))\n"
        metric("rackplane_tftp_transfers_aborted_total", "TFTP transfers ended without success, by reason.")
        for reason in TFTPAbortReason.allCases {
            out += "rackplane_tftp_transfers_aborted_total{reason=\"\(reason.name)\"} \(sum { $0.transfersAborted[reason.rawValue] })\n"
        }
        metric("rackplane_tftp_transfers_active", "TFTP transfers in progress.", "gauge")
        out += "rackplane_tftp_transfers_active \(all.reduce(0) { $0 + $1.activeTransfers })\n"
        metric("rackplane_tftp_requests_refused_total", "TFTP requests answered with an ERROR or dropped, by reason.")
        for reason in TFTPRequestRefusal.allCases {
            out += "rackplane_tftp_requests_refused_total{reason=\"\(reason.name)\"} \(sum { $0.requestsRefused[reason.rawValue] })\n"
        }
        metric("rackplane_tftp_paths_refused_total", "TFTP file names refused as outside the files root, by reason.")
        for reason in TFTPPathRefusal.allCases {
            out += "rackplane_tftp_paths_refused_total{reason=\"\(reason.name)\"} \(sum { $0.pathsRefused[reason.rawValue] })\n"
        }
        metric("rackplane_tftp_packets_ignored_total", "TFTP packets on a transfer port that changed nothing, by reason.")
        for reason in TFTPIgnoredPacket.allCases {
            let name = switch reason {
            case .malformed: "malformed"
            case .duplicateAcknowledgement: "duplicate_acknowledgement"
            case .transferOver: "transfer_over"
            }
            out += "rackplane_tftp_packets_ignored_total{reason=\"\(name)\"} \(sum { $0.packetsIgnored[reason.rawValue] })\n"
        }
        metric("rackplane_tftp_boot_configs_served_total", "Boot configs rendered and served over TFTP.")
        out += "rackplane_tftp_boot_configs_served_total \(sum(\.bootConfigsServed))\n"
        metric("rackplane_tftp_bytes_sent_total", "File bytes sent in TFTP DATA packets, retransmissions included.")
        out += "rackplane_tftp_bytes_sent_total \(sum(\.bytesSent))\n"
        metric("rackplane_tftp_data_packets_sent_total", "TFTP DATA packets sent.")
        out += "rackplane_tftp_data_packets_sent_total \(sum(\.dataPacketsSent))\n"
        metric("rackplane_tftp_retransmissions_total", "TFTP retransmission timeouts.")
        out += "rackplane_tftp_retransmissions_total \(sum(\.retransmissions))\n"
        metric("rackplane_tftp_unknown_transfer_id_total", "Packets from a stranger on a transfer's port (ERROR 5 sent).")
        out += "rackplane_tftp_unknown_transfer_id_total \(sum(\.unknownTransferIDs))\n"
        metric("rackplane_tftp_send_slots_exhausted_total", "TFTP DATA blocks deferred to the timeout for want of a send slot.")
        out += "rackplane_tftp_send_slots_exhausted_total \(sum(\.slotsExhausted))\n"
        return out
    }
}
