import Histogram

/// Renders a run's statistics: the table printed at the end of `rackplane loadgen`, and the
/// `--json` object (its keys are an interface, like `pcap decode`'s).
public enum LoadReport {
    static let percentiles: [(String, Double)] = [("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)]

    public static func text(_ s: LoadStatistics, plan: LoadPlan) -> String {
        var out = ""
        let mode = plan.relayAddress.map { "relay \($0) → \(plan.server)" } ?? "broadcast on \(plan.interface ?? "?") → \(plan.server)"
        out += "loadgen: \(s.requested) machines (\(plan.mix)), \(mode), concurrency \(plan.concurrency)"
        out += plan.rate > 0 ? ", \(format(plan.rate)) arrivals/s\n" : "\n"
        out += "machines  booted \(s.booted)  failed \(s.failed)  not started \(s.notStarted)"
        if let stoppedBy = s.stoppedBy { out += "  (stopped: \(stoppedBy))" }
        out += "\n"
        out += "time      wall \(format(s.wallSeconds)) s"
        if let all = s.allBootedSeconds {
            out += "   all booted \(format(all)) s after the first arrival   \(format(Double(s.booted) / max(all, 0.001))) boots/s"
        }
        out += "\n\n"
        var rows = [["stage", "ok", "failed", "skipped"] + percentiles.map(\.0) + ["max", "throughput"]]
        for stage in Stage.allCases where plan.stages.contains(stage) {
            let st = s.stages[stage]!
            var row = [stage.rawValue, "\(st.succeeded)", "\(st.failed)", "\(st.skipped)"]
            row += latencyColumns(st.latency)
            row.append(throughput(stage, st, seconds: st.spanSeconds))
            rows.append(row)
        }
        rows.append(["boot", "\(s.booted)", "\(s.failed)", ""] + latencyColumns(s.boot) + [""])
        out += table(rows)
        let failing = Stage.allCases.filter { !(s.stages[$0]!.failures.isEmpty) }
        if !failing.isEmpty {
            out += "\nfailures by stage\n"
            for stage in failing {
                for (reason, count) in s.stages[stage]!.failures.sorted(by: { $0.value > $1.value }) {
                    out += "  \(stage.rawValue.padded(6)) \(reason.padded(16)) \(count)\n"
                }
            }
            out += "first failures\n"
            for sample in s.failureSamples.prefix(10) { out += "  \(sample)\n" }
        }
        if let restarts = s.stages[.dhcp]?.restarts, restarts > 0 {
            out += "\ndhcp: \(restarts) exchange\(restarts == 1 ? "" : "s") started over after a NAK\n"
        }
        if s.sourceAddresses != "leased" { out += "\nsource addresses after DHCP: \(s.sourceAddresses)\n" }
        return out
    }

    public static func json(_ s: LoadStatistics, plan: LoadPlan) -> String {
        var o = JSONObject()
        o.add("requested", s.requested)
        o.add("started", s.started)
        o.add("booted", s.booted)
        o.add("failed", s.failed)
        o.add("not_started", s.notStarted)
        o.add("wall_seconds", s.wallSeconds)
        if let all = s.allBootedSeconds { o.add("all_booted_seconds", all) } else { o.addNull("all_booted_seconds") }
        if let stoppedBy = s.stoppedBy { o.add("stopped_by", stoppedBy) }
        o.add("server", plan.server.description)
        o.add("mix", plan.mix.description)
        o.add("concurrency", plan.concurrency)
        o.add("rate", plan.rate)
        o.add("source_addresses", s.sourceAddresses)
        var firmware = JSONObject()
        for kind in Firmware.allCases {
            var f = JSONObject()
            f.add("booted", s.bootedByFirmware[kind] ?? 0)
            f.add("failed", s.failedByFirmware[kind] ?? 0)
            firmware.add(kind.rawValue, f)
        }
        o.add("firmware", firmware)
        var stages = JSONObject()
        for stage in Stage.allCases where plan.stages.contains(stage) {
            let st = s.stages[stage]!
            var j = JSONObject()
            j.add("ok", st.succeeded)
            j.add("failed", st.failed)
            j.add("skipped", st.skipped)
            j.add("operations", st.operations)
            j.add("restarts", st.restarts)
            j.add("bytes", Int(st.bytes))
            var failures = JSONObject()
            for (reason, count) in st.failures.sorted(by: { $0.key < $1.key }) { failures.add(reason, count) }
            j.add("failures", failures)
            j.add("latency_ms", latencyJSON(st.latency))
            j.add("span_seconds", st.spanSeconds)
            j.add("per_second", st.spanSeconds > 0 ? Double(st.operations) / st.spanSeconds : 0)
            j.add("bytes_per_second", st.spanSeconds > 0 ? Double(st.bytes) / st.spanSeconds : 0)
            stages.add(stage.rawValue, j)
        }
        o.add("stages", stages)
        o.add("boot_ms", latencyJSON(s.boot))
        o.add("failure_samples", s.failureSamples)
        return o.text
    }

    static func latencyJSON(_ h: Histogram<UInt64>) -> JSONObject {
        var j = JSONObject()
        guard h.totalCount > 0 else { return j }
        for (name, p) in percentiles { j.add(name, Double(h.valueAtPercentile(p)) / 1000) }
        j.add("max", Double(h.max) / 1000)
        j.add("mean", h.mean / 1000)
        j.add("count", Int(h.totalCount))
        return j
    }

    static func latencyColumns(_ h: Histogram<UInt64>) -> [String] {
        guard h.totalCount > 0 else { return Array(repeating: "-", count: percentiles.count + 1) }
        return percentiles.map { duration(microseconds: h.valueAtPercentile($0.1)) } + [duration(microseconds: h.max)]
    }

    static func throughput(_ stage: Stage, _ st: StageStatistics, seconds: Double) -> String {
        guard seconds > 0, st.succeeded > 0 else { return "" }
        switch stage {
        case .dhcp: return "\(format(Double(st.operations) / seconds)) DORA/s"
        case .dns: return "\(format(Double(st.operations) / seconds)) answers/s"
        case .tftp, .http: return "\(bytes(Double(st.bytes) / seconds))/s, \(bytes(Double(st.bytes))) in all"
        }
    }

    public static func duration(microseconds: UInt64) -> String {
        let us = Double(microseconds)
        if us < 1000 { return "\(Int(us)) µs" }
        if us < 1_000_000 { return "\(format(us / 1000)) ms" }
        return "\(format(us / 1_000_000)) s"
    }

    public static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = value
        var unit = 0
        while v >= 1024, unit < units.count - 1 {
            v /= 1024
            unit += 1
        }
        return unit == 0 ? "\(Int(v)) B" : "\(format(v)) \(units[unit])"
    }

    /// Three significant figures, no exponent: 0.123, 1.23, 12.3, 123, 1234.
    public static func format(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        let digits = value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        if digits == 0 { return String(Int(rounded)) }
        let whole = Int(rounded)
        var fraction = String(Int(((rounded - Double(whole)) * scale).rounded()))
        while fraction.count < digits { fraction = "0" + fraction }
        return "\(whole).\(fraction)"
    }

    /// Left-aligned columns, two spaces apart.
    public static func table(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() { line += i == row.count - 1 ? cell : cell.padded(widths[i] + 2) }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
