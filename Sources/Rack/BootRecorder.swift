import Foundation
import Synchronization
import Wire

/// What machines fetched while they booted — the ACK that named a boot file, each TFTP
/// transfer and each image HTTP response — kept for the region, which files every step under
/// the machine it belongs to (the machine page's boot history).
///
/// Only a connected rack records (a standalone rack's services get no recorder and pay
/// nothing). A step is recorded once per transfer or response, never per packet: one
/// uncontended lock and a copy into a preallocated ring, with the name held inline, so the
/// ring threads allocate nothing. When the region is away long enough for the ring to fill,
/// the oldest steps are overwritten and counted — boot history is diagnostics, and the
/// lease and event journals, not this, carry what must never be lost.
public final class BootRecorder: Sendable {
    public enum Stage: UInt8, Sendable {
        case dhcp, tftp, http

        var name: String {
            switch self {
            case .dhcp: "dhcp"
            case .tftp: "tftp"
            case .http: "http"
            }
        }
    }

    /// A file name or request target, its first `capacity` bytes inline.
    public struct Name: Sendable {
        public static let capacity = 120
        var bytes = InlineArray<120, UInt8>(repeating: 0)
        var count: UInt8 = 0

        public init() {}

        public init(_ source: UnsafeRawBufferPointer) {
            let n = min(source.count, Self.capacity)
            for i in 0..<n { bytes[i] = source[i] }
            count = UInt8(n)
        }

        /// Printable text: control bytes and invalid UTF-8 become U+FFFD, not log injection.
        var text: String {
            var raw: [UInt8] = []
            raw.reserveCapacity(Int(count))
            for i in 0..<Int(count) { raw.append(bytes[i] < 0x20 || bytes[i] == 0x7F ? UInt8(ascii: "?") : bytes[i]) }
            return String(decoding: raw, as: UTF8.self)
        }
    }

    struct Step: Sendable {
        var at: UInt64 = 0
        var stage: Stage = .dhcp
        /// The client's IPv4 address (the address an ACK gave, for DHCP).
        var address: UInt32 = 0
        /// The client's MAC in the low 48 bits; 0 when the step does not carry one (TFTP, HTTP).
        var mac: UInt64 = 0
        /// HTTP status; 0 for DHCP and TFTP.
        var status: UInt16 = 0
        /// "ok", a refusal's message, an abort's reason: static text, so recording copies a pointer.
        var outcome: StaticString = ""
        var bytes: UInt64 = 0
        var name = Name()
    }

    private struct Ring: ~Copyable {
        var steps: [Step]
        /// As many steps again, swapped in by `drain` (empty while a drain holds it).
        var spare: [Step]
        var next = 0
        var count = 0
        var overwritten: UInt64 = 0
        var recorded: UInt64 = 0
    }

    public static let defaultCapacity = 32_768
    private let ring: Mutex<Ring>

    public init(capacity: Int = BootRecorder.defaultCapacity) {
        ring = Mutex(Ring(steps: Array(repeating: Step(), count: max(1, capacity)),
                          spare: Array(repeating: Step(), count: max(1, capacity))))
    }

    public func record(_ stage: Stage, address: UInt32, mac: UInt64 = 0, name: UnsafeRawBufferPointer,
                status: UInt16 = 0, outcome: StaticString, bytes: UInt64) {
        record(stage, address: address, mac: mac, name: Name(name), status: status, outcome: outcome, bytes: bytes)
    }

    public func record(_ stage: Stage, address: UInt32, mac: UInt64 = 0, name: Name,
                status: UInt16 = 0, outcome: StaticString, bytes: UInt64) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        let step = Step(at: UInt64(now.tv_sec), stage: stage, address: address, mac: mac, status: status,
                        outcome: outcome, bytes: bytes, name: name)
        ring.withLock { ring in
            let capacity = ring.steps.count
            ring.steps[ring.next] = step
            ring.next = ring.next + 1 == capacity ? 0 : ring.next + 1
            if ring.count == capacity { ring.overwritten &+= 1 } else { ring.count += 1 }
            ring.recorded &+= 1
        }
    }

    /// A step as the region receives it (`POST /api/v1/rack/boots`).
    public struct Report: Codable, Equatable, Sendable {
        public var at: UInt64
        public var stage: String
        public var address: String
        public var mac: String?
        public var name: String
        public var status: Int?
        public var outcome: String
        public var bytes: UInt64
    }

    /// Takes every step recorded since the last call, oldest first. The steps are read outside
    /// the lock: under it the full array is only swapped for the spare one, so a ring thread
    /// recording meanwhile waits for two moves, not for a copy of up to `capacity` steps. One
    /// caller at a time (the region link's report thread).
    public func drain() -> [Report] {
        let (full, start, count) = ring.withLock { ring in
            let capacity = ring.steps.count
            let taken = (ring.steps, (ring.next - ring.count + capacity) % capacity, ring.count)
            ring.steps = ring.spare
            ring.spare = []
            ring.next = 0
            ring.count = 0
            return taken
        }
        let capacity = full.count
        let reports = (0..<count).map { k in
            let step = full[(start + k) % capacity]
            return Report(at: step.at, stage: step.stage.name, address: IPv4Address(step.address).description,
                          mac: step.mac == 0 ? nil : MACAddress(step.mac).description, name: step.name.text,
                          status: step.stage == .http ? Int(step.status) : nil,
                          outcome: step.outcome.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }, bytes: step.bytes)
        }
        // The drained array, referenced only here now, is the next spare: no allocation, and no
        // copy-on-write when the ring writes into it later.
        var spare = consume full
        ring.withLock { swap(&$0.spare, &spare) }
        return reports
    }

    /// Steps the region link had to drop (it keeps a bounded backlog while the region is away):
    /// counted with the overwritten ones, as lost.
    public func countLost(_ steps: Int) {
        guard steps > 0 else { return }
        ring.withLock { $0.overwritten &+= UInt64(steps) }
    }

    /// Steps recorded since start, and how many were lost (overwritten in the ring, or dropped
    /// from the link's backlog) before the region took them.
    public var totals: (recorded: UInt64, overwritten: UInt64) {
        ring.withLock { ($0.recorded, $0.overwritten) }
    }

    func renderMetrics() -> String {
        let (recorded, overwritten) = totals
        return """
            # HELP rackplane_rack_boot_steps_total Boot steps (boot ACKs, TFTP transfers, image HTTP responses) recorded for the region.
            # TYPE rackplane_rack_boot_steps_total counter
            rackplane_rack_boot_steps_total \(recorded)
            # HELP rackplane_rack_boot_steps_overwritten_total Boot steps lost because the region did not take them in time.
            # TYPE rackplane_rack_boot_steps_overwritten_total counter
            rackplane_rack_boot_steps_overwritten_total \(overwritten)

            """
    }
}
