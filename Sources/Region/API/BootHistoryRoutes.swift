import Foundation
import Hummingbird
import Wire

/// Boot history: racks report the steps of machines' boots (`POST /api/v1/rack/boots`), the
/// region files each under its machine, and `GET /api/v1/machines/{id}/boots` lists them
/// (the machine page and `rackplane machines show` read the same).
struct BootHistoryRoutes: Sendable {
    let store: RegionStore

    /// The most steps one report may carry (a rack sends at most 1,000).
    static let maximumStepsPerReport = 1000
    /// Steps older than this are pruned when a report arrives.
    static let retentionDays = 30

    struct BootReport: Decodable, Sendable {
        var rack: Int64
        var steps: [Step]

        struct Step: Codable, Sendable {
            /// Unix seconds, at the rack.
            var at: Int64
            var stage: String
            var address: String
            var mac: String?
            var name: String
            var status: Int?
            var outcome: String
            var bytes: Int64
        }
    }

    func register(on group: RouterGroup<RegionRequestContext>) {
        group.post("rack/boots") { request, context in
            let report = try await RequestDecoding.decode(BootReport.self, from: request, context: context)
            try await record(report)
            return Response(status: .noContent)
        }
        group.get("machines/:id/boots") { request, context in
            let machine = try RegionAPI.id(context, "machine")
            let limit = try AccessRoutes.limit(request)
            guard let json = try await store.bootStepsJSON(machineID: machine, limit: limit) else {
                throw APIError.notFound("machine", machine)
            }
            return JSONBody.response(status: .ok, json: json)
        }
    }

    /// Checks every step before any is stored: a report is taken whole or refused with the
    /// first bad step named.
    static func validate(_ report: BootReport) throws {
        guard report.steps.count <= maximumStepsPerReport else {
            throw APIError(.unprocessableContent, "at most \(maximumStepsPerReport) steps per report")
        }
        for (index, step) in report.steps.enumerated() {
            func bad(_ reason: String) -> APIError { APIError(.unprocessableContent, "steps[\(index)]: \(reason)") }
            guard ["dhcp", "tftp", "http"].contains(step.stage) else { throw bad("stage must be dhcp, tftp or http (got '\(step.stage)')") }
            // Up to the year 9999: beyond, PostgreSQL's to_timestamp fails.
            guard (1...253_402_300_799).contains(step.at) else { throw bad("at must be Unix seconds from 1 to 253402300799") }
            guard IPv4Address(step.address) != nil else { throw bad("address '\(step.address)' is not an IPv4 address") }
            if let mac = step.mac { guard MACAddress(mac) != nil else { throw bad("mac '\(mac)' is not a MAC address") } }
            guard step.name.utf8.count <= 1024 else { throw bad("name over 1024 bytes") }
            // PostgreSQL text holds no NUL (the rack sends none: it prints control bytes as ?).
            guard !step.name.utf8.contains(0), !step.outcome.utf8.contains(0) else { throw bad("name and outcome must not contain NUL") }
            guard !step.outcome.isEmpty, step.outcome.utf8.count <= 100 else { throw bad("outcome must be 1 to 100 bytes") }
            guard step.bytes >= 0 else { throw bad("bytes must not be negative") }
            if let status = step.status { guard (100...599).contains(status) else { throw bad("status must be an HTTP status (100–599)") } }
        }
    }

    /// Stores a report in one statement; each step's machine is found by its MAC, else by its
    /// address (a static interface, else the newest bound lease there).
    func record(_ report: BootReport) async throws {
        try Self.validate(report)
        guard !report.steps.isEmpty else { return }
        let rack = String(report.rack)
        let steps = String(decoding: try JSONEncoder().encode(report.steps), as: UTF8.self)
        try await store.pool.withConnection { connection in
            try connection.transaction { connection in
                guard try connection.query("SELECT 1 FROM rack_controllers WHERE id = $1::bigint", [rack]).rows.count == 1 else {
                    throw APIError.notFound("rack_controller", rack)
                }
                try connection.query("""
                    INSERT INTO boot_steps (at, rack_id, machine_id, stage, address, mac, name, status, outcome, bytes)
                    SELECT to_timestamp(s.at), $1::bigint,
                        -- A step that names its MAC belongs to that MAC's machine or to none
                        -- yet (a stranger, claimed when its interface appears); only steps
                        -- without one are found by address, through a lease live at the time.
                        CASE WHEN s.mac IS NOT NULL THEN
                            (SELECT i.machine_id FROM interfaces i WHERE i.mac = s.mac::macaddr)
                        ELSE coalesce(
                            (SELECT i.machine_id FROM interfaces i WHERE i.ip = s.address::inet),
                            (SELECT i.machine_id FROM leases l JOIN interfaces i ON i.mac = l.mac
                             WHERE l.ip = s.address::inet AND l.state = 'bound' AND l.expires_at >= to_timestamp(s.at)
                             ORDER BY (l.rack_id = $1::bigint) DESC, l.reported_at DESC LIMIT 1))
                        END,
                        s.stage, s.address::inet, s.mac::macaddr, s.name, s.status, s.outcome, s.bytes
                    FROM jsonb_to_recordset($2::jsonb)
                        AS s(at bigint, stage text, address text, mac text, name text, status int, outcome text, bytes bigint)
                    """, [rack, steps])
                try connection.query("DELETE FROM boot_steps WHERE at < now() - make_interval(days => $1::int)",
                                     [String(Self.retentionDays)])
                try RackProtocolRoutes.touch(rack, on: connection)
            }
        }
    }
}

extension RegionStore {
    /// A machine's boot steps, newest first, with the reporting rack's name; nil when there is
    /// no such machine.
    func bootStepsJSON(machineID: String, limit: Int) async throws -> String? {
        try await read { connection in
            try connection.query("""
                SELECT CASE WHEN EXISTS (SELECT 1 FROM machines WHERE id = $1::bigint) THEN
                    (SELECT coalesce(json_agg(x ORDER BY x.at DESC, x.id DESC), '[]')::text FROM
                        (SELECT b.id, b.at, r.name AS rack, b.stage, host(b.address) AS address, b.mac, b.name,
                                b.status, b.outcome, b.bytes
                         FROM boot_steps b LEFT JOIN rack_controllers r ON r.id = b.rack_id
                         WHERE b.machine_id = $1::bigint
                         ORDER BY b.at DESC, b.id DESC LIMIT $2::integer) x)
                END
                """, [machineID, String(limit)]).scalar
        }
    }
}
