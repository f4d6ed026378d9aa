/// Web UI sessions (`web_sessions`, migration 006): the browser holds a random id in an
/// HttpOnly, SameSite=Strict cookie; the database holds its SHA-256, the API token that logged
/// in, and a CSRF token for the session's forms.
public struct WebSession: Sendable {
    /// Whoever the token belongs to, with the token's role.
    public var identity: Identity
    /// The session id's SHA-256 (the row's key).
    var digest: String
    /// Every form carries it; every POST must bring it back.
    var csrfToken: String
    /// A message left by the previous POST, shown once.
    var flash: String?
}

extension RegionStore {
    /// How long a login lasts. A revoked token ends its sessions at once, whatever is left.
    static let webSessionLifetimeSeconds = 12 * 3600

    /// Checks an API token and opens a session for it; returns the new session id (for the
    /// cookie) or nil for an unknown token. Expired sessions are removed on the way.
    func openWebSession(token: String) async throws -> String? {
        let tokenDigest = Secrets.sha256Hex(token)
        let sessionID = Secrets.newSecret()
        let sessionDigest = Secrets.sha256Hex(sessionID)
        let csrf = Secrets.newSecret()
        let lifetime = String(Self.webSessionLifetimeSeconds)
        return try await pool.withConnection { connection in
            try connection.transaction { connection -> String? in
                try connection.query("DELETE FROM web_sessions WHERE expires_at < now()")
                guard let row = try connection.query("""
                    SELECT t.id, u.username FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_sha256 = $1
                    """, [tokenDigest]).rows.first, let tokenID = row["id"] else { return nil }
                try connection.query("""
                    INSERT INTO web_sessions (session_sha256, token_id, csrf_token, expires_at)
                    VALUES ($1, $2::bigint, $3, now() + make_interval(secs => $4::integer))
                    """, [sessionDigest, tokenID, csrf, lifetime])
                try connection.query(
                    "INSERT INTO events (actor, action, object_type, object_id, summary) VALUES ($1, 'login', 'token', $2, 'web UI')",
                    [row["username"] ?? "", tokenID])
                return sessionID
            }
        }
    }

    /// The live session a cookie names, or nil (unknown, expired, or its token revoked).
    /// With `takeFlash`, the session's message is returned and cleared.
    func webSession(id: String, takeFlash: Bool) async throws -> WebSession? {
        guard Self.isSessionID(id) else { return nil }
        let digest = Secrets.sha256Hex(id)
        return try await pool.withConnection { connection in
            let row = try connection.query("""
                SELECT s.csrf_token, s.flash, t.id AS token_id, u.username, u.role
                FROM web_sessions s JOIN api_tokens t ON t.id = s.token_id JOIN users u ON u.id = t.user_id
                WHERE s.session_sha256 = $1 AND s.expires_at > now()
                """, [digest]).rows.first
            guard let row, let name = row["username"], let role = row["role"].flatMap(Identity.Role.init(rawValue:)),
                  let csrf = row["csrf_token"] else { return nil }
            var flash = row["flash"]
            if takeFlash, flash != nil {
                // Only the request that clears it shows it (two tabs do not both show it).
                flash = try connection.query(
                    "UPDATE web_sessions s SET flash = NULL FROM web_sessions old WHERE s.session_sha256 = $1 AND old.session_sha256 = s.session_sha256 AND old.flash IS NOT NULL RETURNING old.flash",
                    [digest]).scalar
            } else if !takeFlash {
                flash = nil
            }
            return WebSession(identity: Identity(name: name, role: role, tokenID: row["token_id"]), digest: digest, csrfToken: csrf, flash: flash)
        }
    }

    /// Leaves a message for the session's next page.
    func setFlash(_ message: String, session: WebSession) async throws {
        try await pool.withConnection { connection in
            _ = try connection.query("UPDATE web_sessions SET flash = $2 WHERE session_sha256 = $1", [session.digest, message])
        }
    }

    func closeWebSession(_ session: WebSession) async throws {
        try await pool.withConnection { connection in
            _ = try connection.query("DELETE FROM web_sessions WHERE session_sha256 = $1", [session.digest])
        }
    }

    /// 64 lower-case hex digits, as `Secrets.newSecret` makes them; anything else is not looked up.
    static func isSessionID(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }
}
