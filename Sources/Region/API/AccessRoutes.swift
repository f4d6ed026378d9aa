import Hummingbird

/// Users, API tokens (admin only, listing included: it shows who can do what) and the event log
/// (any role).
struct AccessRoutes: Sendable {
    let store: RegionStore

    struct UserInput: Decodable, Sendable {
        var username: String
        /// admin | read-only
        var role: String
    }

    struct TokenInput: Decodable, Sendable {
        var username: String
        var description: String?
    }

    static let userColumns = "t.id, t.username, t.role, t.created_at"
    static let tokenColumns = "t.id, u.username, u.role, t.description, t.created_at"

    func register(on group: RouterGroup<RegionRequestContext>) {
        group.get("users") { _, context in
            try Self.requireAdmin(context)
            let json = try await store.read { try $0.query("SELECT coalesce(json_agg(x ORDER BY x.id), '[]')::text FROM (SELECT \(Self.userColumns) FROM users t) x").scalar ?? "[]" }
            return JSONBody.response(status: .ok, json: json)
        }
        group.post("users") { request, context in
            let input = try await RequestDecoding.decode(UserInput.self, from: request, context: context)
            let json = try await store.write(actor: context.requireIdentity(), action: "create", objectType: "user", summary: "user \(input.username)") { connection in
                let id = try connection.query("INSERT INTO users (username, role) VALUES ($1, $2) RETURNING id", [input.username, input.role]).scalar ?? ""
                let json = try connection.query("SELECT row_to_json(x)::text FROM (SELECT \(Self.userColumns) FROM users t WHERE t.id = $1::bigint) x", [id]).scalar
                return .init(objectID: id, value: json ?? "{}")
            }
            return JSONBody.response(status: .created, json: json)
        }
        group.delete("users/:id") { _, context in
            let id = try RegionAPI.id(context, "user")
            let actor = try context.requireIdentity()
            try await store.write(actor: actor, action: "delete", objectType: "user") { connection in
                guard let name = try connection.query("DELETE FROM users WHERE id = $1::bigint RETURNING username", [id]).scalar else {
                    throw APIError.notFound("user", id)
                }
                // Deleting yourself would lock the region out if you are its last admin.
                if name == actor.name { throw APIError(.conflict, "a user cannot delete itself") }
                return .init(objectID: id, value: ())
            }
            return Response(status: .noContent)
        }

        group.get("tokens") { _, context in
            try Self.requireAdmin(context)
            let json = try await store.read { try $0.query("SELECT coalesce(json_agg(x ORDER BY x.id), '[]')::text FROM (SELECT \(Self.tokenColumns) FROM api_tokens t JOIN users u ON u.id = t.user_id) x").scalar ?? "[]" }
            return JSONBody.response(status: .ok, json: json)
        }
        group.post("tokens") { request, context in
            let input = try await RequestDecoding.decode(TokenInput.self, from: request, context: context)
            let json = try await store.write(actor: context.requireIdentity(), action: "create", objectType: "token", summary: "token for \(input.username)") { connection in
                guard let userID = try connection.query("SELECT id FROM users WHERE username = $1", [input.username]).scalar else {
                    throw APIError(.unprocessableContent, "no user named \(input.username)")
                }
                let created = try RegionStore.insertToken(on: connection, userID: userID, description: input.description ?? "")
                // The only time the token itself is shown.
                let json = try connection.query("""
                    SELECT row_to_json(x)::text FROM (SELECT \(Self.tokenColumns), $2::text AS token
                    FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1::bigint) x
                    """, [created.id, created.token]).scalar
                return .init(objectID: created.id, value: json ?? "{}")
            }
            return JSONBody.response(status: .created, json: json)
        }
        group.delete("tokens/:id") { _, context in
            let id = try RegionAPI.id(context, "token")
            let actor = try context.requireIdentity()
            // Revoking the token in hand could lock the last admin out: use another one.
            if actor.tokenID == id { throw APIError(.conflict, "a token cannot revoke itself; revoke it with another admin token") }
            try await store.write(actor: actor, action: "delete", objectType: "token") { connection in
                guard try connection.query("DELETE FROM api_tokens WHERE id = $1::bigint", [id]).affectedRows == 1 else {
                    throw APIError.notFound("token", id)
                }
                return .init(objectID: id, value: ())
            }
            return Response(status: .noContent)
        }

        group.get("whoami") { _, context in
            let identity = try context.requireIdentity()
            return JSONBody.response(status: .ok, encoding: ["username": identity.name, "role": identity.role.rawValue])
        }
        group.get("events") { request, _ in
            let limit = try Self.limit(request)
            var machine: String?
            if let text = request.uri.queryParameters.get("machine") {
                guard let id = Int64(text), id > 0 else { throw APIError(.badRequest, "machine must be a machine id (got '\(text)')") }
                machine = String(id)
            }
            return JSONBody.response(status: .ok, json: try await store.eventsJSON(.init(limit: limit, machineID: machine)))
        }
        group.get("leases") { _, _ in
            JSONBody.response(status: .ok, json: try await store.leasesJSON())
        }
    }

    static func requireAdmin(_ context: RegionRequestContext) throws {
        guard try context.requireIdentity().role == .admin else {
            throw APIError(.forbidden, "only an admin may see users and tokens")
        }
    }

    /// `?limit=N`, 1…1000, default 100.
    static func limit(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return 100 }
        guard let value = Int(text), (1...1000).contains(value) else {
            throw APIError(.badRequest, "limit must be an integer from 1 to 1000")
        }
        return value
    }
}
