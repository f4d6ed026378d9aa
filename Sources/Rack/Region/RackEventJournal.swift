import Foundation
import Glibc
import Synchronization

/// What happened at a connected rack that its operator should see in the region's event log —
/// a generation put in service, a boot file cached or refused, the region lost and found again —
/// kept on disk (`STATE_DIR/events.jsonl`, one JSON object per line) with a sequence number
/// that never repeats, until the region acknowledges it. An outage of the region loses none,
/// and a retried report duplicates none (the region stores each sequence once).
///
/// Events are rare (never per packet): each is appended and synced to disk as it happens.
final class RackEventJournal: Sendable {
    struct Event: Codable, Equatable, Sendable {
        var sequence: UInt64
        /// Unix seconds.
        var at: UInt64
        var action: String
        var summary: String
    }

    let path: String
    private let state: Mutex<State>

    private struct State {
        var next: UInt64
        /// Not yet acknowledged, oldest first.
        var pending: [Event]
        var acked: UInt64
    }

    /// Pending events past this many are dropped oldest first (a region away for weeks).
    static let maximumPending = 100_000

    init(path: String) {
        self.path = path
        var pending: [Event] = []
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let decoder = JSONDecoder()
            for line in text.split(separator: "\n") {
                // A line cut short by a crash is the last one; it is skipped.
                if let event = try? decoder.decode(Event.self, from: Data(line.utf8)) { pending.append(event) }
            }
        }
        state = Mutex(State(next: (pending.map(\.sequence).max() ?? 0) + 1, pending: pending, acked: 0))
    }

    /// Appends an event (and writes it to disk before returning).
    func record(_ action: String, _ summary: String) {
        state.withLock { state in
            let event = Event(sequence: state.next, at: UInt64(Date().timeIntervalSince1970), action: action, summary: summary)
            state.next += 1
            state.pending.append(event)
            if state.pending.count > Self.maximumPending { state.pending.removeFirst(state.pending.count - Self.maximumPending) }
            append(event)
        }
    }

    /// Events the region has not acknowledged, oldest first, at most `limit`.
    func unacknowledged(limit: Int) -> [Event] {
        state.withLock { Array($0.pending.prefix(limit)) }
    }

    /// The region holds everything up to `sequence`: forget it, and rewrite the file when it
    /// holds only acknowledged lines.
    func acknowledge(upTo sequence: UInt64) {
        state.withLock { state in
            guard sequence > state.acked else { return }
            state.acked = sequence
            let before = state.pending.count
            state.pending.removeAll { $0.sequence <= sequence }
            if state.pending.count != before { rewrite(state.pending, next: state.next) }
        }
    }

    /// After enrolment: the region's acknowledged sequence. A rack whose state directory was
    /// wiped starts numbering above it, so its new events are not taken for old ones.
    func adopt(regionAcked: UInt64) {
        state.withLock { state in
            if state.next <= regionAcked { state.next = regionAcked + 1 }
        }
        acknowledge(upTo: regionAcked)
    }

    private func append(_ event: Event) {
        guard let data = try? JSONEncoder().encode(event) else { return }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let line = Array(data) + [UInt8(ascii: "\n")]
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        _ = fdatasync(fd)
    }

    /// The pending events only; an empty journal keeps one line so the numbering survives.
    private func rewrite(_ pending: [Event], next: UInt64) {
        let encoder = JSONEncoder()
        var lines = pending.compactMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) }
        if lines.isEmpty, let marker = try? encoder.encode(Event(sequence: next - 1, at: 0, action: "acknowledged", summary: "")) {
            // Remembers the numbering; the region already holds this sequence and ignores it.
            lines = [String(decoding: marker, as: UTF8.self)]
        }
        let temporary = path + ".new"
        guard (try? (lines.joined(separator: "\n") + "\n").write(toFile: temporary, atomically: false, encoding: .utf8)) != nil else { return }
        rename(temporary, path)
    }
}
