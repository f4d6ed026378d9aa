import Foundation
import Hummingbird
import Power
import Wire

/// Power (docs/power.md): an operator's `POST /machines/{id}/power/{action}` becomes a request
/// queued for the rack that serves the machine; that rack long-polls `GET /rack/power`, runs
/// the driver, and reports `POST /rack/power`. Results become events and the machine's power
/// state. Parameters leave the database only decrypted for the rack's request.
struct PowerRoutes: Sendable {
    let store: RegionStore

    /// How long an operator's request waits for its result by default, and at most.
    static let defaultWait = 60
    static let maximumWait = 120
    /// How long a rack's poll is held open when nothing is queued (under the rack's read timeout).
    static let rackWaitSeconds = 8
    /// A rack that polled within this long is connected (it polls at least every 8 s).
    static let liveRackSeconds = 60
    /// How long a lifecycle power cycle waits for the rack's new tables at most (a compile that
    /// failed, or changed nothing, must not hold the machine forever).
    static let tablesWaitSeconds = 10

    /// Whether request `q` may go to its rack now (parameter `$n`: `tablesWaitSeconds`): a
    /// lifecycle cycle once the rack serves the generation the compiler built from a model that
    /// held the request (`ready_generation`: the machine's new purpose and boot token are in
    /// it), so the machine boots what its new state renders (docs/lifecycle.md). What the rack
    /// reported serving decides; a rack that never reported (an older build) is taken at what
    /// was published. After `tablesWaitSeconds` it goes regardless: a compile that failed must
    /// not hold the machine forever.
    static func readySQL(_ n: Int) -> String {
        """
        (q.after_generation IS NULL OR q.created_at < now() - make_interval(secs => $\(n)::integer)
         OR (q.ready_generation IS NOT NULL AND
             (SELECT coalesce(r.serving_generation, r.tables_generation, 0) FROM rack_controllers r WHERE r.id = q.rack_id)
                >= q.ready_generation))
        """
    }

    /// A request a rack took but never answered fails after this long (the rack died mid-call).
    static let abandonedAfterSeconds = 300

    struct ResultReport: Decodable, Sendable {
        var rack: Int64
        var results: [PowerRunner.Result]
    }

    func register(on group: RouterGroup<RegionRequestContext>) {
        group.post("machines/:id/power/:action") { request, context in
            let machine = try RegionAPI.id(context, "machine")
            let name = context.parameters.get("action") ?? ""
            guard let action = PowerAction(rawValue: name) else {
                throw APIError(.notFound, "no power action \(name) (\(PowerAction.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let boot = request.uri.queryParameters.get("boot")
            guard boot == nil || boot == "pxe" else { throw APIError(.badRequest, "boot must be pxe (or left out)") }
            let wait = try Self.waitParameter(request)
            return try await requestPower(action, machine: machine, bootPXE: boot == "pxe", wait: wait, actor: context.requireIdentity())
        }
        group.get("machines/:id/power") { _, context in
            let machine = try RegionAPI.id(context, "machine")
            guard let json = try await store.read({ try $0.query(Self.powerSQL, [machine]).scalar }) else {
                throw APIError.notFound("machine", machine)
            }
            return JSONBody.response(status: .ok, json: json)
        }
        group.get("rack/power") { request, _ in
            let rack = try RackProtocolRoutes.rackParameter(request)
            let wait = min(Int(request.uri.queryParameters.get("wait") ?? "") ?? Self.rackWaitSeconds, 25)
            let most = min(max(Int(request.uri.queryParameters.get("max") ?? "") ?? 50, 1), 50)
            return JSONBody.response(status: .ok, encoding: ["requests": try await claim(rack: rack, wait: max(0, wait), most: most)])
        }
        group.post("rack/power") { request, context in
            let report = try await RequestDecoding.decode(ResultReport.self, from: request, context: context)
            guard report.results.count <= 1000 else { throw APIError(.unprocessableContent, "at most 1000 results per report") }
            for result in report.results where result.message.utf8.count > 2000 {
                throw APIError(.unprocessableContent, "result \(result.id): message over 2000 bytes")
            }
            let recorded = try await store.pool.withConnection { try Self.record(report, on: $0) }
            return JSONBody.response(status: .ok, encoding: ["recorded": recorded])
        }
    }

    static func waitParameter(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("wait") else { return defaultWait }
        guard let seconds = Int(text), (0...maximumWait).contains(seconds) else {
            throw APIError(.badRequest, "wait must be 0-\(maximumWait) seconds")
        }
        return seconds
    }

    /// The machine's last known power, and its ten latest requests.
    static let powerSQL = """
        SELECT row_to_json(x)::text FROM (
            SELECT m.id AS machine_id, m.power_type, coalesce(p.state, 'unknown') AS state, p.message, p.checked_at,
                (SELECT coalesce(json_agg(r ORDER BY r.id DESC), '[]') FROM (
                    SELECT \(requestColumns) FROM power_requests q WHERE q.machine_id = m.id ORDER BY q.id DESC LIMIT 10) r) AS requests
            FROM machines m LEFT JOIN machine_power p ON p.machine_id = m.id WHERE m.id = $1::bigint) x
        """

    static let requestColumns = """
        q.id, q.machine_id, q.rack_id, q.action, q.boot_pxe, q.source, q.actor, q.status, q.state, q.error, q.message,
        q.created_at, q.finished_at
        """

    /// The rack that answers the machine's subnets: a VLAN's primary rack, else its secondary,
    /// else those of the VLAN it is relayed to; the machine's first interface that has one.
    static let servingRackSQL = """
        SELECT coalesce(v.primary_rack_id, v.secondary_rack_id, r.primary_rack_id, r.secondary_rack_id)
        FROM interfaces i JOIN subnets s ON s.id = i.subnet_id JOIN vlans v ON v.id = s.vlan_id
        LEFT JOIN vlans r ON r.id = v.relay_vlan_id
        WHERE i.machine_id = $1::bigint
          AND coalesce(v.primary_rack_id, v.secondary_rack_id, r.primary_rack_id, r.secondary_rack_id) IS NOT NULL
        ORDER BY i.id LIMIT 1
        """

    /// Queues the request and waits up to `wait` seconds for its result: 200 with the result, or
    /// 202 with the request still open (`GET /machines/{id}/power` shows it later). A rack not
    /// heard from within `liveRackSeconds` is not waited for: the request waits for it instead.
    func requestPower(_ action: PowerAction, machine: String, bootPXE: Bool, wait: Int, actor: Identity) async throws -> Response {
        let summary = "power \(action.rawValue)" + (bootPXE ? " (next boot from the network)" : "")
        let (id, live) = try await store.write(actor: actor, action: "power-request", objectType: "machine", summary: summary) { connection in
            guard let type = try connection.query("SELECT power_type FROM machines WHERE id = $1::bigint FOR UPDATE", [machine]).scalar else {
                throw APIError.notFound("machine", machine)
            }
            guard let rack = try connection.query(Self.servingRackSQL, [machine]).scalar else {
                throw APIError(.conflict, "no rack serves machine \(machine): give an interface a subnet on a VLAN with a primary rack (power type \(type))")
            }
            let id = try connection.query("""
                INSERT INTO power_requests (machine_id, rack_id, action, boot_pxe, source, actor)
                VALUES ($1::bigint, $2::bigint, $3, $4::boolean, 'api', $5) RETURNING id
                """, [machine, rack, action.rawValue, SQLText.bool(bootPXE), actor.name]).scalar ?? ""
            let live = try connection.query(
                "SELECT coalesce(last_contact_at > now() - make_interval(secs => $2::integer), false) FROM rack_controllers WHERE id = $1::bigint",
                [rack, String(Self.liveRackSeconds)]).scalar == "t"
            return .init(objectID: machine, value: (id, live))
        }
        let deadline = ContinuousClock.now + .seconds(live ? wait : 0)
        while true {
            let row = try await store.read { connection in
                try connection.query("SELECT x.status, row_to_json(x)::text AS json FROM (SELECT \(Self.requestColumns) FROM power_requests q WHERE q.id = $1::bigint) x",
                                     [id]).rows.first
            }
            guard let row, let status = row["status"], let json = row["json"] else { throw APIError.notFound("power request", id) }
            if status == "done" || status == "failed" { return JSONBody.response(status: .ok, json: json) }
            if ContinuousClock.now >= deadline { return JSONBody.response(status: .accepted, json: json) }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Hands the rack its queued requests (at most `most`, at most 50), waiting up to `wait`
    /// seconds for one. Each is marked sent; its parameters are decrypted here and travel only in
    /// this answer.
    func claim(rack: String, wait: Int, most: Int = 50) async throws -> [PowerRunner.Request] {
        let vault = store.powerVault
        let deadline = ContinuousClock.now + .seconds(wait)
        try await store.pool.withConnection { connection in
            guard try connection.query("SELECT 1 FROM rack_controllers WHERE id = $1::bigint", [rack]).rows.count == 1 else {
                throw APIError.notFound("rack_controller", rack)
            }
            try RackProtocolRoutes.touch(rack, on: connection)
            try connection.transaction { try Self.expireAbandoned(on: $0) }
        }
        while true {
            // While nothing is queued, a poll costs one indexed read every 200 ms, not a write.
            let queued = try await store.read { connection in
                try connection.query("SELECT 1 FROM power_requests q WHERE q.rack_id = $1::bigint AND q.status = 'pending' AND \(Self.readySQL(2)) LIMIT 1",
                                     [rack, String(Self.tablesWaitSeconds)]).rows.count == 1
            }
            if !queued {
                if ContinuousClock.now >= deadline { return [] }
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            let claimed = try await store.pool.withConnection { connection -> [PowerRunner.Request] in
                try connection.transaction { connection in
                    let rows = try connection.query("""
                        UPDATE power_requests q SET status = 'sent', sent_at = now()
                        FROM machines m
                        WHERE q.id IN (SELECT id FROM power_requests q WHERE q.rack_id = $1::bigint AND q.status = 'pending' AND \(Self.readySQL(3))
                                       ORDER BY id LIMIT $2::integer FOR UPDATE SKIP LOCKED)
                          AND m.id = q.machine_id
                        RETURNING q.id, q.action, q.boot_pxe, m.power_type, encode(m.power_parameters_sealed, 'hex') AS sealed,
                                  m.system_id, m.hostname
                        """, [rack, String(most), String(Self.tablesWaitSeconds)]).rows
                    var requests: [PowerRunner.Request] = []
                    for row in rows {
                        let id = row["id"] ?? "0"
                        var parameters = "{}"
                        if let sealed = row["sealed"], !sealed.isEmpty {
                            do {
                                parameters = String(decoding: try vault.open(hexDecoded(sealed) ?? []), as: UTF8.self)
                            } catch {
                                // Fails here and now, with the reason, instead of at the BMC.
                                try Self.finish(id: id, rack: rack, result: PowerRunner.Result(
                                    id: Int64(id) ?? 0, ok: false, state: nil, message: "\(error)", error: .parameters), on: connection)
                                continue
                            }
                        }
                        requests.append(PowerRunner.Request(
                            id: Int64(id) ?? 0, action: PowerAction(rawValue: row["action"] ?? "") ?? .query,
                            bootPXE: row["boot_pxe"] == "t", powerType: row["power_type"] ?? "manual", parameters: parameters,
                            context: PowerContext(systemID: row["system_id"] ?? "", hostname: row["hostname"] ?? "")))
                    }
                    return requests
                }
            }
            if !claimed.isEmpty || ContinuousClock.now >= deadline { return claimed.sorted { $0.id < $1.id } }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Requests a rack took and never answered, and requests no rack took, fail with the reason.
    static func expireAbandoned(on connection: PostgresConnection) throws {
        let expired = try connection.query("""
            SELECT id, rack_id FROM power_requests
            WHERE status IN ('pending', 'sent') AND coalesce(sent_at, created_at) < now() - make_interval(secs => $1::integer)
            FOR UPDATE SKIP LOCKED
            """, [String(abandonedAfterSeconds)]).rows
        for row in expired {
            guard let id = row["id"], let rack = row["rack_id"] else { continue }
            try finish(id: id, rack: rack, result: PowerRunner.Result(
                id: Int64(id) ?? 0, ok: false, state: nil, message: "rack \(rack) did not answer within \(abandonedAfterSeconds) s", error: .unreachable),
                on: connection)
        }
    }

    /// Records a rack's results; returns how many were open and are now finished.
    static func record(_ report: ResultReport, on connection: PostgresConnection) throws -> Int {
        let rack = String(report.rack)
        return try connection.transaction { connection in
            guard try connection.query("SELECT 1 FROM rack_controllers WHERE id = $1::bigint", [rack]).rows.count == 1 else {
                throw APIError.notFound("rack_controller", rack)
            }
            try RackProtocolRoutes.touch(rack, on: connection)
            var recorded = 0
            for result in report.results {
                if try finish(id: String(result.id), rack: rack, result: result, on: connection) { recorded += 1 }
            }
            return recorded
        }
    }

    /// Closes one open request with its result (a repeat, or another rack's request, changes
    /// nothing), keeps the machine's power state, and records the event: always for an
    /// operator's request, for a poll only when the state changed or the call failed.
    @discardableResult
    static func finish(id: String, rack: String, result: PowerRunner.Result, on connection: PostgresConnection) throws -> Bool {
        guard let row = try connection.query("""
            UPDATE power_requests SET status = $3, state = $4, error = $5, message = $6, finished_at = now()
            WHERE id = $1::bigint AND rack_id = $2::bigint AND status IN ('pending', 'sent')
            RETURNING machine_id, action, source
            """, [id, rack, result.ok ? "done" : "failed", result.state?.rawValue, result.error?.rawValue, result.message]).rows.first,
              let machine = row["machine_id"], let action = row["action"] else { return false }
        let newState = result.ok ? (result.state ?? .unknown).rawValue : "error"
        let previous = try connection.query("SELECT state FROM machine_power WHERE machine_id = $1::bigint", [machine]).scalar
        // A failed on/off says nothing new about the state unless it was a query.
        if result.ok || action == "query" {
            try connection.query("""
                INSERT INTO machine_power (machine_id, state, message, checked_at) VALUES ($1::bigint, $2, $3, now())
                ON CONFLICT (machine_id) DO UPDATE SET state = EXCLUDED.state, message = EXCLUDED.message, checked_at = now()
                """, [machine, newState, result.message])
        }
        let polled = row["source"] == "poll"
        guard !polled || previous != newState else { return true }
        let rackName = try connection.query("SELECT name FROM rack_controllers WHERE id = $1::bigint", [rack]).scalar ?? rack
        let eventAction: String
        var summary: String
        if result.ok {
            eventAction = polled ? "power-state" : "power-" + action
            summary = "\(action): power \(newState)" + (previous.map { $0 != newState ? " (was \($0))" : "" } ?? "") + "; \(result.message)"
        } else {
            // The class is in the action, so an unreachable BMC or refused credentials stand out.
            eventAction = "power-" + (result.error ?? .failed).rawValue
            summary = "\(action) failed: \(result.message)"
        }
        if summary.utf8.count > 2000 { summary = String(summary.prefix(1990)) + "…" }
        try connection.query(
            "INSERT INTO events (actor, action, object_type, object_id, summary) VALUES ($1, $2, 'machine', $3, $4)",
            ["rack " + rackName, eventAction, machine, summary])
        if result.ok, action == "off", row["source"] == "lifecycle" {
            try Lifecycle.completeRelease(machine: machine, rackName: rackName, on: connection)
        }
        return true
    }
}
