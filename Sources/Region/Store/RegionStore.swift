/// Who is asking: resolved from a bearer token by the API.
public struct Identity: Sendable, Hashable {
    public enum Role: String, Sendable, Codable, CaseIterable {
        case admin
        case readOnly = "read-only"
        /// A rack controller that proved the shared secret: it may fetch tables, nothing else.
        case rack
    }

    public var name: String
    public var role: Role
    /// The API token the request came with (nil for the rack secret).
    public var tokenID: String?

    public init(name: String, role: Role, tokenID: String? = nil) {
        self.name = name
        self.role = role
        self.tokenID = tokenID
    }
}

/// The region's only way into PostgreSQL: plain functions over the pool, SQL in one place.
/// Writes go through `write`, which records an event in the same transaction.
public struct RegionStore: Sendable {
    public let pool: PostgresPool
    /// Seals power parameters; the region loads its key from the state directory.
    public var powerVault = PowerVault.random()
    /// How long a commissioning or deploying machine has to report before it fails (and how
    /// long its per-boot token lives).
    public var lifecycleTimeoutSeconds = 1800

    public init(pool: PostgresPool) {
        self.pool = pool
    }

    /// A read on a connection of its own.
    public func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await pool.withConnection(body)
    }

    /// What a write reports for its event: the object's id, when there is one.
    public struct WriteResult<Value: Sendable>: Sendable {
        public var objectID: String?
        public var value: Value

        public init(objectID: String?, value: Value) {
            self.objectID = objectID
            self.value = value
        }
    }

    /// Runs `body` in a transaction and records who did what in `events` before committing; a
    /// write that fails leaves no event (and nothing else) behind.
    public func write<T: Sendable>(
        actor: Identity, action: String, objectType: String, summary: String = "",
        _ body: @escaping @Sendable (PostgresConnection) throws -> WriteResult<T>
    ) async throws -> T {
        try await pool.withConnection { connection in
            try connection.transaction { connection in
                let result = try body(connection)
                try connection.query(
                    "INSERT INTO events (actor, action, object_type, object_id, summary) VALUES ($1, $2, $3, $4, $5)",
                    [actor.name, action, objectType, result.objectID, summary])
                return result.value
            }
        }
    }

    // MARK: Tokens

    /// The identity a token belongs to, or nil for an unknown token.
    public func identity(forToken token: String) async throws -> Identity? {
        let digest = Secrets.sha256Hex(token)
        return try await read { connection in
            let row = try connection.query("""
                SELECT t.id, u.username, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id
                WHERE t.token_sha256 = $1
                """, [digest]).rows.first
            guard let row, let name = row["username"], let role = row["role"].flatMap(Identity.Role.init(rawValue:)) else { return nil }
            return Identity(name: name, role: role, tokenID: row["id"])
        }
    }

    /// Creates a token for `userID`; only its digest is stored, the token itself is returned once.
    static func insertToken(on connection: PostgresConnection, userID: String, description: String) throws -> (id: String, token: String) {
        let token = Secrets.newToken()
        let id = try connection.query(
            "INSERT INTO api_tokens (user_id, description, token_sha256) VALUES ($1::bigint, $2, $3) RETURNING id",
            [userID, description, Secrets.sha256Hex(token)]).scalar ?? ""
        return (id, token)
    }

    // MARK: First start

    /// On a database with no users: creates `admin` and a token for it, and returns the token
    /// (nil when users exist). Several regions starting together agree through an advisory lock.
    public func bootstrapAdmin() async throws -> String? {
        try await pool.withConnection { connection in
            try connection.transaction { connection -> String? in
                try connection.query("SELECT pg_advisory_xact_lock($1::bigint)", [Migrations.advisoryLockKey])
                let users = try connection.query("SELECT count(*) FROM users").scalar.flatMap(Int.init) ?? 0
                guard users == 0 else { return nil }
                let userID = try connection.query(
                    "INSERT INTO users (username, role) VALUES ('admin', 'admin') RETURNING id").scalar ?? ""
                let created = try Self.insertToken(on: connection, userID: userID, description: "created on first start")
                try connection.query(
                    "INSERT INTO events (actor, action, object_type, object_id, summary) VALUES ('region', 'create', 'token', $1, 'first admin token')",
                    [created.id])
                return created.token
            }
        }
    }

    /// The secret racks enrol with: made once per database, so every region sharing it agrees.
    public func rackSecret() async throws -> String {
        try await pool.withConnection { connection in
            try connection.query(
                "INSERT INTO region_settings (name, value) VALUES ('rack_secret', $1) ON CONFLICT (name) DO NOTHING",
                [Secrets.newSecret()])
            guard let secret = try connection.query("SELECT value FROM region_settings WHERE name = 'rack_secret'").scalar else {
                throw PostgresError(kind: .statement, message: "rack_secret missing after insert")
            }
            return secret
        }
    }
}
