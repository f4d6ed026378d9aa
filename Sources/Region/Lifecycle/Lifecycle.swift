import Foundation

/// The machine lifecycle's database side (docs/lifecycle.md): per-boot tokens, the power cycle
/// that starts a boot, reports, and timeouts. Plain functions over a connection, each called
/// inside the caller's transaction.
enum Lifecycle {
    /// Makes the token of the machine's next boot, replacing any earlier one: the nonce and the
    /// token's SHA-256 are stored, the token itself is derived again by the compiler.
    static func mintBootToken(machine: String, purpose: String, timeoutSeconds: Int, key: BootTokenKey,
                              on connection: PostgresConnection) throws {
        let nonce = BootTokenKey.newNonce()
        let token = key.token(machine: machine, nonce: nonce)
        try connection.query("""
            INSERT INTO boot_tokens (machine_id, purpose, nonce, token_sha256, expires_at)
            VALUES ($1::bigint, $2, $3, $4, now() + make_interval(secs => $5::integer))
            ON CONFLICT (machine_id) DO UPDATE SET purpose = EXCLUDED.purpose, nonce = EXCLUDED.nonce,
                token_sha256 = EXCLUDED.token_sha256, created_at = now(), expires_at = EXCLUDED.expires_at, used_at = NULL
            """, [machine, purpose, nonce, Secrets.sha256Hex(token), String(timeoutSeconds)])
    }

    /// Queues a power cycle with the next boot from the network through the rack that serves
    /// the machine (`docs/power.md`), and says so in the event log; a machine no rack serves is
    /// left for the operator to power on, which the event says too.
    @discardableResult
    static func queuePowerCycle(machine: String, actor: Identity, on connection: PostgresConnection) throws -> Bool {
        try supersedePendingPower(machine: machine, by: "a power cycle", on: connection)
        let rack = try connection.query(PowerRoutes.servingRackSQL, [machine]).scalar
        if let rack {
            // Held until the rack serves tables that carry the machine's new purpose and token
            // (`ready_generation`, set by the compiler; `after_generation` marks the wait).
            try connection.query("""
                INSERT INTO power_requests (machine_id, rack_id, action, boot_pxe, source, actor, after_generation)
                VALUES ($1::bigint, $2::bigint, 'cycle', true, 'lifecycle', $3,
                        (SELECT coalesce(tables_generation, 0) FROM rack_controllers WHERE id = $2::bigint))
                """, [machine, rack, actor.name])
        }
        try connection.query(
            "INSERT INTO events (actor, action, object_type, object_id, summary) VALUES ($1, 'power-request', 'machine', $2, $3)",
            [actor.name, machine, rack == nil
                ? "no rack serves the machine: power it on by hand, from the network"
                : "power cycle (next boot from the network)"])
        return rack != nil
    }

    /// A new lifecycle power request replaces any still pending for the machine: a release's
    /// power off must not be overtaken by the cycle of a deploy it cancelled, nor a cycle by a
    /// stale power off.
    static func supersedePendingPower(machine: String, by action: String, on connection: PostgresConnection) throws {
        try connection.query("""
            UPDATE power_requests SET status = 'failed', message = $2, finished_at = now()
            WHERE machine_id = $1::bigint AND status = 'pending' AND source = 'lifecycle'
            """, [machine, "superseded by \(action)"])
    }

    /// Releasing: queues a power off through the serving rack; the machine becomes Ready when
    /// the rack confirms it (`completeRelease`). A machine no rack serves, or whose power is
    /// manual, waits in Releasing for the operator's `complete`, which the event says.
    @discardableResult
    static func queuePowerOff(machine: String, actor: Identity, on connection: PostgresConnection) throws -> Bool {
        try supersedePendingPower(machine: machine, by: "a power off", on: connection)
        let manual = try connection.query("SELECT power_type FROM machines WHERE id = $1::bigint", [machine]).scalar == "manual"
        let rack = manual ? nil : try connection.query(PowerRoutes.servingRackSQL, [machine]).scalar
        if let rack {
            try connection.query("""
                INSERT INTO power_requests (machine_id, rack_id, action, boot_pxe, source, actor)
                VALUES ($1::bigint, $2::bigint, 'off', false, 'lifecycle', $3)
                """, [machine, rack, actor.name])
        }
        let summary = rack != nil ? "power off; Ready once the rack confirms it"
            : manual ? "power is manual: power the machine off by hand, then complete the release"
            : "no rack serves the machine: power it off by hand, then complete the release"
        try connection.query(
            "INSERT INTO events (actor, action, object_type, object_id, summary) VALUES ($1, 'power-request', 'machine', $2, $3)",
            [actor.name, machine, summary])
        return rack != nil
    }

    /// A lifecycle power off went through: a machine still Releasing is Ready (boot purpose
    /// local), with an event naming the rack that powered it off.
    static func completeRelease(machine: String, rackName: String, on connection: PostgresConnection) throws {
        guard let next = MachineAction.complete.next(from: .releasing) else { return }
        let moved = try connection.query("""
            UPDATE machines SET status = $2, boot_purpose = $3, status_message = '', status_changed_at = now(), updated_at = now()
            WHERE id = $1::bigint AND status = 'releasing' RETURNING id
            """, [machine, next.rawValue, next.bootPurpose]).rows.count
        guard moved == 1 else { return }
        try connection.query(
            "INSERT INTO events (actor, action, object_type, object_id, summary) VALUES ($1, 'released', 'machine', $2, $3)",
            ["rack " + rackName, machine, "powered off: \(next.rawValue)"])
    }

    // MARK: Reports

    /// What a report's token turned out to be.
    enum TokenCheck: Equatable {
        case valid
        case unknown
        case expired
        case used
    }

    /// Checks `token` against the machine's current boot token (constant-time over digests).
    static func checkToken(_ token: String, machine: String, on connection: PostgresConnection) throws -> TokenCheck {
        guard let row = try connection.query("""
            SELECT token_sha256, used_at IS NOT NULL AS used, expires_at <= now() AS expired
            FROM boot_tokens WHERE machine_id = $1::bigint FOR UPDATE
            """, [machine]).rows.first, let digest = row["token_sha256"] else { return .unknown }
        guard AuthMiddleware.constantTimeEqual(Secrets.sha256Hex(token), digest) else { return .unknown }
        if row["used"] == "t" { return .used }
        if row["expired"] == "t" { return .expired }
        return .valid
    }

    /// The report's body.
    struct ReportInput: Decodable, Sendable {
        var status: String
        var message: String?
        var facts: JSONObject?
        /// The token, for clients that cannot set a header (the header wins).
        var token: String?
    }

    static let maximumMessageBytes = 2000

    /// A report's fate: the machine's JSON after it, or the refusal to send. A refusal made after
    /// the token matched is recorded as an event, which must be committed: it is returned, not
    /// thrown (a throw would roll the event back).
    enum ReportResult: Sendable {
        case accepted(json: String)
        case refused(APIError)
    }

    /// Moves the machine on for a valid report; bad input and unknown tokens are thrown.
    static func report(machine: String, token: String, input: ReportInput, on connection: PostgresConnection) throws -> ReportResult {
        guard let outcome = MachineReport.Outcome(rawValue: input.status) else {
            throw APIError(.unprocessableContent, "status must be ok or failed (got \(input.status.prefix(40)))")
        }
        let message = input.message ?? ""
        guard message.utf8.count <= maximumMessageBytes, !message.utf8.contains(0) else {
            throw APIError(.unprocessableContent, "message must be text of at most \(maximumMessageBytes) bytes")
        }
        let facts = input.facts?.text
        // PostgreSQL's jsonb holds no NUL character.
        guard facts.map({ !$0.contains("\\u0000") }) ?? true else {
            throw APIError(.unprocessableContent, "facts may not contain NUL characters")
        }
        guard let row = try connection.query("SELECT status, hostname FROM machines WHERE id = $1::bigint FOR UPDATE", [machine]).rows.first,
              let current = row["status"] else {
            throw APIError.notFound("machine", machine)
        }
        let actor = "machine \(row["hostname"] ?? machine)"
        func refuse(_ error: APIError) throws -> ReportResult {
            try event(actor: actor, action: "report-refused", machine: machine, summary: error.message, on: connection)
            return .refused(error)
        }
        switch try checkToken(token, machine: machine, on: connection) {
        case .unknown:
            // No event: anyone can send a wrong token, and the log is not theirs to fill.
            throw APIError(.unauthorized, "this is not the token of machine \(machine)'s current boot (rackplane.token= on its kernel command line)")
        case .used:
            return try refuse(APIError(.forbidden, "the token of this boot was already used: one report per boot"))
        case .expired:
            return try refuse(APIError(.forbidden, "the token of this boot has expired"))
        case .valid:
            break
        }
        guard let status = MachineStatus(rawValue: current), let next = MachineReport.next(from: status, outcome: outcome) else {
            return try refuse(APIError(.conflict, "machine \(machine) is \(current): reports are taken while it is commissioning or deploying"))
        }
        try connection.query("UPDATE boot_tokens SET used_at = now() WHERE machine_id = $1::bigint", [machine])
        try connection.query("""
            UPDATE machines SET status = $2, boot_purpose = $3, status_message = $4, status_changed_at = now(), updated_at = now(),
                facts = CASE WHEN $5::jsonb IS NULL THEN facts ELSE $5::jsonb END
            WHERE id = $1::bigint
            """, [machine, next.rawValue, next.bootPurpose, outcome == .failed ? message : "", facts])
        let summary = "\(status.rawValue) reported \(outcome.rawValue): now \(next.rawValue)" + (message.isEmpty ? "" : " (\(message))")
        try event(actor: actor, action: "report", machine: machine, summary: summary, on: connection)
        return .accepted(json: try connection.query(Resources.machines.selectOneSQL, [machine]).scalar ?? "{}")
    }

    // MARK: Timeouts

    /// Moves every machine that has waited longer than `timeoutSeconds` for its report to its
    /// failed state, with the reason and an event each; returns their ids.
    @discardableResult
    static func failOverdue(timeoutSeconds: Int, on connection: PostgresConnection) throws -> [String] {
        let reason = LifecycleTimeout.reason(timeout: timeoutSeconds)
        let rows = try connection.query("""
            UPDATE machines SET status = CASE status WHEN 'commissioning' THEN 'failed_commissioning' ELSE 'failed_deployment' END,
                boot_purpose = 'local', status_message = $2, status_changed_at = now(), updated_at = now()
            WHERE id IN (SELECT id FROM machines WHERE status IN ('commissioning', 'deploying')
                           AND status_changed_at <= now() - make_interval(secs => $1::integer) FOR UPDATE SKIP LOCKED)
            RETURNING id, status
            """, [String(timeoutSeconds), reason]).rows
        for row in rows {
            guard let id = row["id"] else { continue }
            try event(actor: "region", action: "timeout", machine: id, summary: "\(row["status"] ?? ""): \(reason)", on: connection)
        }
        return rows.compactMap { $0["id"] }
    }

    static func event(actor: String, action: String, machine: String, summary: String, on connection: PostgresConnection) throws {
        try connection.query(
            "INSERT INTO events (actor, action, object_type, object_id, summary) VALUES ($1, $2, 'machine', $3, $4)",
            [actor, action, machine, summary])
    }
}
