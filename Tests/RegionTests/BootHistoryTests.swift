import Foundation
import Testing
@testable import Region

/// Boot history without a database: grouping steps into boots and checking a rack's report.
struct BootHistoryTests {
    static func step(_ id: Int, _ stage: String, _ name: String, outcome: String = "ok", status: Int? = nil, bytes: Int = 0) -> ViewValues.Object {
        var object: ViewValues.Object = ["id": id, "at": "2026-11-27T06:0\(id):00+00:00", "stage": stage, "name": name,
                                         "outcome": outcome, "bytes": bytes, "address": "198.18.0.31", "rack": "rack-a"]
        object["status"] = status ?? Absent()
        return object
    }

    @Test func eachAckBeginsABootAndTheNewestBootComesFirst() {
        // As the store lists them: newest first.
        let steps = [
            Self.step(5, "http", "/images/vmlinuz", status: 200, bytes: 2048),
            Self.step(4, "tftp", "lpxelinux.0", bytes: 1024),
            Self.step(3, "dhcp", "lpxelinux.0", outcome: "ack"),
            Self.step(2, "tftp", "lpxelinux.0", outcome: "file not found"),
            Self.step(1, "dhcp", "lpxelinux.0", outcome: "ack"),
        ]
        let boots = BootHistoryView.boots(steps)
        #expect(boots.count == 2)
        #expect(boots[0]["started"] as? String == "2026-11-27 06:03:00")
        #expect(boots[0]["summary"] as? String == "3 steps, 3.0 KiB")
        let newest = boots[0]["steps"] as? [[String: Any]] ?? []
        #expect(newest.map { $0["stage"] as? String } == ["DHCP", "TFTP", "HTTP"])
        #expect(newest[2]["result"] as? String == "200")
        #expect(boots[1]["summary"] as? String == "2 steps, 0 bytes, 1 not served")
    }

    @Test func probesAreNotFailuresButMissingFilesAre() {
        #expect(BootHistoryView.succeeded(Self.step(1, "tftp", "pxelinux.cfg/C61200", outcome: "file not found")))
        #expect(BootHistoryView.succeeded(Self.step(1, "tftp", "ubuntu/amd64/boot-kernel", outcome: "size probe")))
        #expect(!BootHistoryView.succeeded(Self.step(1, "tftp", "lpxelinux.0", outcome: "file not found")))
        #expect(!BootHistoryView.succeeded(Self.step(1, "http", "/images/initrd", status: 404)))
        #expect(!BootHistoryView.succeeded(Self.step(1, "http", "/images/initrd", outcome: "aborted", status: 200)))
    }

    @Test func aReportIsCheckedWholeAndTheBadStepNamed() throws {
        typealias Step = BootHistoryRoutes.BootReport.Step
        let good = Step(at: 1, stage: "tftp", address: "198.18.0.31", mac: nil, name: "x", status: nil, outcome: "ok", bytes: 1)
        try BootHistoryRoutes.validate(.init(rack: 1, steps: [good]))
        func refusal(_ step: Step) -> String? {
            do {
                try BootHistoryRoutes.validate(.init(rack: 1, steps: [good, step]))
                return nil
            } catch let error as APIError {
                return error.message
            } catch {
                return "\(error)"
            }
        }
        var bad = good
        bad.stage = "nfs"
        #expect(refusal(bad)?.hasPrefix("steps[1]: stage") == true)
        bad = good
        bad.mac = "52:54:00"
        #expect(refusal(bad)?.contains("not a MAC address") == true)
        bad = good
        bad.status = 42
        #expect(refusal(bad)?.contains("HTTP status") == true)
        bad = good
        bad.name = "a\u{0}b"
        #expect(refusal(bad)?.contains("NUL") == true)
        bad = good
        bad.at = 300_000_000_000
        #expect(refusal(bad)?.contains("Unix seconds") == true)
        bad = good
        bad.bytes = -1
        #expect(refusal(bad)?.contains("negative") == true)
        let tooMany = BootHistoryRoutes.BootReport(rack: 1, steps: Array(repeating: good, count: BootHistoryRoutes.maximumStepsPerReport + 1))
        #expect(throws: APIError.self) { try BootHistoryRoutes.validate(tooMany) }
    }
}
