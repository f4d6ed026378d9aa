import Foundation
import Power
import Synchronization

/// The rack's half of power (docs/rack-region-protocol.md, "Power"): long-polls the region for
/// requests addressed to this rack, runs each on a thread of its own through a `PowerRunner`
/// (at most `limit` BMC calls at once), and reports each result as soon as it is known.
/// Results the region did not take (it was away) are kept and sent again with the next ones.
/// Parameters arrive decrypted and live only in memory for the call; nothing here logs them.
final class RackPower: @unchecked Sendable {
    let client: RegionHTTPClient
    let authorization: [(String, String)]
    let log: RackLog
    let runner: PowerRunner
    private let unsent = Mutex<[PowerRunner.Result]>([])
    /// Requests taken from the region and not yet reported finished (running or waiting for a slot).
    private let inFlight = Atomic<Int>(0)
    /// Calls finished, by result: "ok" or the failure's class.
    private let finished = Mutex<[String: Int]>([:])

    /// Concurrent BMC calls per rack, unless `RACKPLANE_RACK_POWER_CONCURRENCY` says otherwise.
    static let defaultLimit = 8

    init(client: RegionHTTPClient, authorization: [(String, String)], log: RackLog, limit: Int? = nil) {
        self.client = client
        self.authorization = authorization
        self.log = log
        let configured = ProcessInfo.processInfo.environment["RACKPLANE_RACK_POWER_CONCURRENCY"].flatMap(Int.init)
        runner = PowerRunner(limit: limit ?? configured ?? Self.defaultLimit)
    }

    struct Batch: Decodable {
        let requests: [PowerRunner.Request]
    }

    struct Report: Encodable {
        let rack: Int
        let results: [PowerRunner.Result]
    }

    /// Runs until `stopping` says so; `rack` is the enrolled id (nil until enrolment).
    func follow(rack: () -> Int?, stopping: () -> Bool) {
        var delay: Double = 1
        while !stopping() {
            guard let id = rack() else {
                Thread.sleep(forTimeInterval: 0.5)
                continue
            }
            // Take no more than twice the limit at a time: the rest wait at the region (where an
            // abandoned request is failed with a reason), not in threads here.
            let room = 2 * runner.limit - inFlight.load(ordering: .relaxed)
            guard room > 0 else {
                Thread.sleep(forTimeInterval: 0.2)
                continue
            }
            do {
                flush(rack: id)
                let response = try client.request("GET", "/api/v1/rack/power?rack=\(id)&wait=8&max=\(room)", headers: authorization)
                guard response.status == 200 else {
                    throw RegionHTTPClient.Failure(description: "power requests: HTTP \(response.status) \(response.text)")
                }
                let batch = try JSONDecoder().decode(Batch.self, from: Data(response.body))
                for request in batch.requests { start(request, rack: id) }
                delay = 1
            } catch {
                log.error("region: \(error); power requests wait at the region, retrying in \(Int(delay)) s")
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, RegionLink.maxBackoff)
            }
        }
    }

    private func start(_ request: PowerRunner.Request, rack: Int) {
        inFlight.add(1, ordering: .relaxed)
        let thread = Thread { [self] in
            defer { inFlight.subtract(1, ordering: .relaxed) }
            let result = runner.run(request)
            finished.withLock { $0[result.ok ? "ok" : (result.error ?? .failed).rawValue, default: 0] += 1 }
            let outcome = result.ok ? "\(result.state?.rawValue ?? "done")" : "failed (\(result.error?.rawValue ?? "error"))"
            log.info("power: \(request.action.rawValue) \(request.context.hostname) (\(request.powerType)): \(outcome): \(result.message)")
            unsent.withLock { $0.append(result) }
            flush(rack: rack)
        }
        thread.name = "power-\(request.id)"
        thread.start()
    }

    /// For the rack's /metrics.
    func renderMetrics() -> String {
        let counts = finished.withLock { $0 }
        var text = """
            # HELP rackplane_rack_power_calls_total Power calls to BMCs, by result (ok, or the failure's class).
            # TYPE rackplane_rack_power_calls_total counter

            """
        for result in ["ok"] + ["unreachable", "authentication", "certificate", "parameters", "unsupported", "manual", "failed"] {
            text += "rackplane_rack_power_calls_total{result=\"\(result)\"} \(counts[result] ?? 0)\n"
        }
        text += """
            # HELP rackplane_rack_power_calls_running Power calls in progress now (at most the rack's limit).
            # TYPE rackplane_rack_power_calls_running gauge
            rackplane_rack_power_calls_running \(runner.running)
            # HELP rackplane_rack_power_calls_limit Power calls a rack makes at once.
            # TYPE rackplane_rack_power_calls_limit gauge
            rackplane_rack_power_calls_limit \(runner.limit)

            """
        return text
    }

    /// Sends every result not yet taken by the region.
    private func flush(rack: Int) {
        let results = unsent.withLock { pending -> [PowerRunner.Result] in
            defer { pending.removeAll() }
            return pending
        }
        guard !results.isEmpty else { return }
        do {
            let body = try JSONEncoder().encode(Report(rack: rack, results: results))
            let response = try client.request("POST", "/api/v1/rack/power", headers: authorization + [("Content-Type", "application/json")],
                                              body: Array(body))
            guard response.status == 200 else { throw RegionHTTPClient.Failure(description: "power results: HTTP \(response.status) \(response.text)") }
        } catch {
            log.error("region: \(error); \(results.count) power results kept for the next try")
            unsent.withLock { $0.insert(contentsOf: results, at: 0) }
        }
    }
}
