/// The machine page's boot history: the steps racks reported (newest first, as the store
/// lists them) grouped into boots — each boot begins with the DHCP ACK that named a boot
/// file — shown newest boot first, its steps in the order they happened.
enum BootHistoryView {
    static func boots(_ steps: [ViewValues.Object]) -> [[String: Any]] {
        var boots: [[ViewValues.Object]] = []
        var current: [ViewValues.Object] = []
        for step in steps.reversed() {
            if ViewValues.text(step, "stage") == "dhcp", !current.isEmpty {
                boots.append(current)
                current = []
            }
            current.append(step)
        }
        if !current.isEmpty { boots.append(current) }
        return boots.reversed().map(boot)
    }

    static func boot(_ steps: [ViewValues.Object]) -> [String: Any] {
        let first = steps[0]
        let bytes = steps.reduce(0) { $0 + (Int(ViewValues.text($1, "bytes") ?? "") ?? 0) }
        let failed = steps.filter { !succeeded($0) }.count
        var summary = "\(steps.count) step\(steps.count == 1 ? "" : "s"), \(ViewValues.byteSize(bytes))"
        if failed > 0 { summary += ", \(failed) not served" }
        return [
            "started": ViewValues.text(first, "at").map(ViewValues.displayTime) ?? "",
            "address": ViewValues.text(first, "address") ?? "",
            "rack": ViewValues.text(first, "rack") ?? "",
            "summary": summary,
            "steps": steps.map(row),
        ]
    }

    static func row(_ step: ViewValues.Object) -> [String: Any] {
        let status = ViewValues.text(step, "status")
        let outcome = ViewValues.text(step, "outcome") ?? ""
        return [
            "when": ViewValues.text(step, "at").map(ViewValues.displayTime) ?? "",
            "stage": (ViewValues.text(step, "stage") ?? "").uppercased(),
            "name": ViewValues.text(step, "name") ?? "",
            "result": status.map { outcome == "ok" ? $0 : "\($0) \(outcome)" } ?? outcome,
            // An ACK carries no file: a size there would only be noise.
            "bytes": ViewValues.text(step, "stage") == "dhcp" ? "" : ViewValues.byteSize(Int(ViewValues.text(step, "bytes") ?? "") ?? 0),
            "failed": succeeded(step) ? Absent() : true,
        ]
    }

    /// Served as asked. A size probe is how pxelinux and iPXE begin a TFTP fetch, and the
    /// config names pxelinux tries before its own may well be missing: neither is marked, but
    /// a missing boot loader, kernel or initrd is.
    static func succeeded(_ step: ViewValues.Object) -> Bool {
        let outcome = ViewValues.text(step, "outcome") ?? ""
        if let status = ViewValues.text(step, "status").flatMap(Int.init) { return outcome == "ok" && status < 400 }
        if outcome == "ok" || outcome == "ack" || outcome == "size probe" { return true }
        return outcome == "file not found" && (ViewValues.text(step, "name") ?? "").contains("pxelinux.cfg/")
    }
}
