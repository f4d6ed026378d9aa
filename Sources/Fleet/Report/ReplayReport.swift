/// Renders a replay's outcome: a table per protocol and the requests that were not answered
/// (or were refused), as text or as one JSON object.
public enum ReplayReport {
    public static func text(_ s: ReplayStatistics, file: String, plan: ReplayPlan, requests: Int, skipped: [String: Int]) -> String {
        var out = "replay \(file): \(s.copies) cop\(s.copies == 1 ? "y" : "ies") × \(requests) requests → \(plan.server) (relay \(plan.relayAddress))"
        if let stoppedBy = s.stoppedBy { out += ", stopped: \(stoppedBy)" }
        out += "\n"
        var rows = [["proto", "sent", "answered", "refused", "unanswered", "no reply expected", "p50", "p99", "max"]]
        for proto in ReplayProtocol.allCases {
            let p = s.protocols[proto]!
            guard p.sent > 0 else { continue }
            var row = [proto.rawValue, "\(p.sent)", "\(p.answered)", "\(p.refused)", "\(p.unanswered)", "\(p.noReplyExpected)"]
            if p.latency.totalCount > 0 {
                row += [99.0, 50.0].reversed().map { LoadReport.duration(microseconds: p.latency.valueAtPercentile($0)) }
                row.append(LoadReport.duration(microseconds: p.latency.max))
            } else {
                row += ["-", "-", "-"]
            }
            rows.append(row)
        }
        out += LoadReport.table(rows)
        out += "answered \(s.answered) of \(s.sent - s.protocols.values.reduce(0) { $0 + $1.noReplyExpected }), unanswered \(s.unanswered), in \(LoadReport.format(s.wallSeconds)) s\n"
        if !skipped.isEmpty {
            out += "not replayed: " + skipped.sorted(by: { $0.key < $1.key }).map { "\($0.value) \($0.key)" }.joined(separator: ", ") + "\n"
        }
        let shown = s.problems.prefix(30)
        if !shown.isEmpty {
            out += "not plainly answered\n"
            for problem in shown {
                out += "  copy \(problem.copy) frame \(problem.frame) \(problem.summary): \(describe(problem.result))\n"
            }
            if s.problems.count > shown.count { out += "  … and \(s.problems.count - shown.count) more\n" }
        }
        return out
    }

    public static func json(_ s: ReplayStatistics, file: String, plan: ReplayPlan, requests: Int, skipped: [String: Int]) -> String {
        var o = JSONObject()
        o.add("file", file)
        o.add("server", plan.server.description)
        o.add("copies", s.copies)
        o.add("requests_per_copy", requests)
        o.add("sent", s.sent)
        o.add("answered", s.answered)
        o.add("unanswered", s.unanswered)
        o.add("wall_seconds", s.wallSeconds)
        if let stoppedBy = s.stoppedBy { o.add("stopped_by", stoppedBy) }
        var protocols = JSONObject()
        for proto in ReplayProtocol.allCases {
            let p = s.protocols[proto]!
            var j = JSONObject()
            j.add("sent", p.sent)
            j.add("answered", p.answered)
            j.add("refused", p.refused)
            j.add("unanswered", p.unanswered)
            j.add("no_reply_expected", p.noReplyExpected)
            j.add("latency_ms", LoadReport.latencyJSON(p.latency))
            protocols.add(proto.rawValue, j)
        }
        o.add("protocols", protocols)
        var skips = JSONObject()
        for (reason, count) in skipped.sorted(by: { $0.key < $1.key }) { skips.add(reason, count) }
        o.add("skipped", skips)
        o.add("problems", objects: s.problems.map { problem in
            var j = JSONObject()
            j.add("copy", problem.copy)
            j.add("frame", problem.frame)
            j.add("proto", problem.proto.rawValue)
            j.add("request", problem.summary)
            switch problem.result {
            case .unanswered(let why): j.add("result", "unanswered"); j.add("reason", why)
            case .refused(let why): j.add("result", "refused"); j.add("reason", why)
            default: j.add("result", "answered")
            }
            return j
        })
        return o.text
    }

    static func describe(_ result: ReplayResult) -> String {
        switch result {
        case .answered: "answered"
        case .noReplyExpected: "no reply expected"
        case .refused(let why): "refused (\(why))"
        case .unanswered(let why): "UNANSWERED (\(why))"
        }
    }
}
