import Foundation
import Hummingbird
import ServiceLifecycle

/// The region side of docs/rack-region-protocol.md: enrolment, the held-open announcement
/// stream, and lease reports. All of it takes `Authorization: Rack SECRET`.
struct RackProtocolRoutes: Sendable {
    let store: RegionStore
    let announcer: TablesAnnouncer
    /// A comment line at least this often, so the rack can tell a quiet link from a dead one.
    let keepalive: Duration

    /// The most records one report may carry.
    static let maximumLeasesPerReport = 1000

    struct EnrolInput: Decodable, Sendable {
        var name: String
    }

    struct LeaseReport: Decodable, Sendable {
        var rack: Int64
        var leases: [Lease]

        struct Lease: Decodable, Sendable {
            var sequence: Int64
            var address: String
            var mac: String
            var hostname: String?
            var clientId: String?
            var state: String
            /// Unix seconds.
            var expiresAt: Int64
        }
    }

    /// The most events one report may carry.
    static let maximumEventsPerReport = 1000

    struct EventReport: Decodable, Sendable {
        var rack: Int64
        var events: [Event]

        struct Event: Decodable, Sendable {
            var sequence: Int64
            /// Unix seconds, when it happened at the rack.
            var at: Int64
            var action: String
            var summary: String
        }
    }

    /// The generation a rack has just put in service.
    struct ServingReport: Decodable, Sendable {
        var rack: Int64
        var generation: Int64
    }

    /// The rack's image cache after a sync round.
    struct ImageReport: Decodable, Sendable {
        var rack: Int64
        var wanted: Int32
        var ready: Int32
        var readyBytes: Int64
    }

    func register(on group: RouterGroup<RegionRequestContext>) {
        group.post("rack/images") { request, context in
            let report = try await RequestDecoding.decode(ImageReport.self, from: request, context: context)
            guard report.wanted >= 0, report.ready >= 0, report.ready <= report.wanted, report.readyBytes >= 0 else {
                throw APIError(.unprocessableContent, "counts must be non-negative and ready at most wanted")
            }
            let rack = String(report.rack)
            let updated = try await store.pool.withConnection { connection in
                let rows = try connection.query("""
                    UPDATE rack_controllers SET image_files_wanted = $2::int, image_files_ready = $3::int, image_bytes_ready = $4::bigint,
                        images_reported_at = now(), last_contact_at = now()
                    WHERE id = $1::bigint RETURNING id
                    """, [rack, String(report.wanted), String(report.ready), String(report.readyBytes)]).rows.count
                return rows == 1
            }
            guard updated else { throw APIError.notFound("rack_controller", rack) }
            return Response(status: .noContent)
        }
        group.post("rack/serving") { request, context in
            let report = try await RequestDecoding.decode(ServingReport.self, from: request, context: context)
            guard report.generation >= 0 else { throw APIError(.unprocessableContent, "generation must not be negative") }
            let rack = String(report.rack)
            let updated = try await store.pool.withConnection { connection in
                try connection.query("""
                    UPDATE rack_controllers SET serving_generation = $2::bigint, serving_reported_at = now(), last_contact_at = now()
                    WHERE id = $1::bigint RETURNING id
                    """, [rack, String(report.generation)]).rows.count == 1
            }
            guard updated else { throw APIError.notFound("rack_controller", rack) }
            return Response(status: .noContent)
        }
        group.post("rack/events") { request, context in
            let report = try await RequestDecoding.decode(EventReport.self, from: request, context: context)
            let acked = try await record(report)
            return JSONBody.response(status: .ok, encoding: ["acked": acked])
        }
        group.post("rack/enrol") { request, context in
            let input = try await RequestDecoding.decode(EnrolInput.self, from: request, context: context)
            let json = try await enrol(input.name, actor: context.requireIdentity(), regionURL: Self.regionURL(request))
            return JSONBody.response(status: .ok, json: json)
        }
        group.get("rack/stream") { request, _ in
            try await stream(rack: Self.rackParameter(request))
        }
        group.post("rack/leases") { request, context in
            let report = try await RequestDecoding.decode(LeaseReport.self, from: request, context: context)
            let acked = try await record(report)
            return JSONBody.response(status: .ok, encoding: ["acked": acked])
        }
    }

    /// Creates the rack controller the first time a name is seen and finds it after that.
    /// The URL the rack reached the region at: its Host header (HTTP/1.1 always sends one).
    static func regionURL(_ request: Request) -> String? {
        guard let host = request.head.authority, !host.isEmpty else { return nil }
        return "http://" + host
    }

    func enrol(_ name: String, actor: Identity, regionURL: String? = nil) async throws -> String {
        try await store.pool.withConnection { connection in
            try connection.transaction { connection in
                if let created = try connection.query(
                    "INSERT INTO rack_controllers (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id", [name]
                ).scalar {
                    try connection.query(
                        "INSERT INTO events (actor, action, object_type, object_id, summary) VALUES ($1, 'enrol', 'rack_controller', $2, $3)",
                        [actor.name, created, "rack \(name)"])
                }
                try connection.query("UPDATE rack_controllers SET last_contact_at = now() WHERE name = $1", [name])
                // Only a change is written: the column's trigger recompiles the tables.
                if let regionURL, try connection.query("SELECT region_url FROM rack_controllers WHERE name = $1", [name]).scalar != regionURL {
                    try connection.query("UPDATE rack_controllers SET region_url = $2 WHERE name = $1", [name, regionURL])
                }
                return try connection.query("""
                    SELECT row_to_json(x)::text FROM (SELECT id, name, leases_acked, events_acked FROM rack_controllers WHERE name = $1) x
                    """, [name]).scalar ?? "{}"
            }
        }
    }

    /// `text/event-stream`: the current generation at once, then each new one, with keepalive
    /// comments between. Ends when the client goes or the region shuts down.
    func stream(rack: String) async throws -> Response {
        // Subscribe before reading the current generation, so none falls between the two.
        let announcements = announcer.subscribe()
        let store = self.store
        let row = try await store.pool.withConnection { connection in
            try Self.touch(rack, on: connection)
            return try connection.query("""
                SELECT r.tables_generation, r.tables_sha256, octet_length(s.bytes) AS size
                FROM rack_controllers r LEFT JOIN table_snapshots s ON s.sha256 = r.tables_sha256
                WHERE r.id = $1::bigint
                """, [rack]).rows.first
        }
        guard let row else { throw APIError.notFound("rack_controller", rack) }
        let current = Self.announcement(rack: rack, row: row)
        let rackID = Int64(rack) ?? 0
        let keepalive = self.keepalive

        // One queue of lines, fed by the announcements and a keepalive ticker, drained by the writer.
        let (lines, feed) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(64))
        if let current { feed.yield("data: \(current.streamData)\n\n") }
        let forwarder = Task {
            var sent = current?.generation ?? 0
            for await tables in announcements where tables.rackID == rackID && tables.generation > sent {
                sent = tables.generation
                feed.yield("data: \(tables.streamData)\n\n")
            }
            feed.finish()
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: keepalive)
                // A rack holding its stream open is in contact, however quiet the model is.
                _ = try? await store.pool.withConnection { try Self.touch(rack, on: $0) }
                feed.yield(": keepalive\n\n")
            }
        }
        let body = ResponseBody { writer in
            defer {
                forwarder.cancel()
                ticker.cancel()
            }
            try await withGracefulShutdownHandler {
                for await line in lines {
                    try await writer.write(ByteBuffer(string: line))
                }
            } onGracefulShutdown: {
                feed.finish()
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: body)
    }

    /// Keeps, per (rack, address), the record with the highest sequence: a retried or older
    /// record changes nothing. Returns the highest sequence held from the rack.
    func record(_ report: LeaseReport) async throws -> Int64 {
        guard report.leases.count <= Self.maximumLeasesPerReport else {
            throw APIError(.unprocessableContent, "at most \(Self.maximumLeasesPerReport) leases per report")
        }
        if let bad = report.leases.first(where: { $0.sequence <= 0 }) {
            throw APIError(.unprocessableContent, "sequence must be positive (got \(bad.sequence))")
        }
        let rack = String(report.rack)
        return try await store.pool.withConnection { connection in
            try connection.transaction { connection in
                guard try connection.query("SELECT 1 FROM rack_controllers WHERE id = $1::bigint FOR UPDATE", [rack]).rows.count == 1 else {
                    throw APIError.notFound("rack_controller", rack)
                }
                for lease in report.leases {
                    try connection.query("""
                        INSERT INTO leases (rack_id, ip, sequence, mac, hostname, client_id, state, expires_at)
                        VALUES ($1::bigint, $2, $3::bigint, $4, $5, $6, $7, to_timestamp($8::bigint))
                        ON CONFLICT (rack_id, ip) DO UPDATE SET
                            sequence = EXCLUDED.sequence, mac = EXCLUDED.mac, hostname = EXCLUDED.hostname,
                            client_id = EXCLUDED.client_id, state = EXCLUDED.state, expires_at = EXCLUDED.expires_at,
                            reported_at = now()
                        WHERE leases.sequence < EXCLUDED.sequence
                        """,
                        [rack, lease.address, String(lease.sequence), lease.mac, lease.hostname, lease.clientId, lease.state, String(lease.expiresAt)])
                }
                try Self.touch(rack, on: connection)
                let highest = report.leases.map(\.sequence).max() ?? 0
                let acked = try connection.query(
                    "UPDATE rack_controllers SET leases_acked = greatest(leases_acked, $2::bigint) WHERE id = $1::bigint RETURNING leases_acked",
                    [rack, String(highest)]).scalar
                return acked.flatMap(Int64.init) ?? 0
            }
        }
    }

    /// Stores a rack's events in the event log (actor "rack NAME"), each (rack, sequence) once.
    func record(_ report: EventReport) async throws -> Int64 {
        guard report.events.count <= Self.maximumEventsPerReport else {
            throw APIError(.unprocessableContent, "at most \(Self.maximumEventsPerReport) events per report")
        }
        for event in report.events {
            guard event.sequence > 0 else { throw APIError(.unprocessableContent, "sequence must be positive (got \(event.sequence))") }
            guard !event.action.isEmpty, event.action.utf8.count <= 32,
                  event.action.utf8.allSatisfy({ (0x61...0x7A).contains($0) || $0 == UInt8(ascii: "-") }) else {
                throw APIError(.unprocessableContent, "action '\(event.action)' is not lower-case letters and hyphens (at most 32)")
            }
            guard event.summary.utf8.count <= 2000 else { throw APIError(.unprocessableContent, "summary over 2000 bytes") }
        }
        let rack = String(report.rack)
        return try await store.pool.withConnection { connection in
            try connection.transaction { connection in
                guard let name = try connection.query("SELECT name FROM rack_controllers WHERE id = $1::bigint FOR UPDATE", [rack]).scalar else {
                    throw APIError.notFound("rack_controller", rack)
                }
                for event in report.events {
                    try connection.query("""
                        INSERT INTO events (at, actor, action, object_type, object_id, summary, rack_id, rack_sequence)
                        VALUES (to_timestamp($1::bigint), $2, $3, 'rack_controller', $4::text, $5, $4::text::bigint, $6::bigint)
                        ON CONFLICT (rack_id, rack_sequence) DO NOTHING
                        """, [String(event.at), "rack " + name, event.action, rack, event.summary, String(event.sequence)])
                }
                try Self.touch(rack, on: connection)
                let highest = report.events.map(\.sequence).max() ?? 0
                let acked = try connection.query(
                    "UPDATE rack_controllers SET events_acked = greatest(events_acked, $2::bigint) WHERE id = $1::bigint RETURNING events_acked",
                    [rack, String(highest)]).scalar
                return acked.flatMap(Int64.init) ?? 0
            }
        }
    }

    /// Records that the rack spoke to the region now (`last_contact_at`, shown by the web UI).
    static func touch(_ rack: String, on connection: PostgresConnection) throws {
        try connection.query("UPDATE rack_controllers SET last_contact_at = now() WHERE id = $1::bigint", [rack])
    }

    static func rackParameter(_ request: Request) throws -> String {
        guard let text = request.uri.queryParameters.get("rack") else { throw APIError(.badRequest, "the rack parameter is required: ?rack=ID") }
        guard let id = Int64(text), id > 0 else { throw APIError.notFound("rack_controller", text) }
        return String(id)
    }

    /// The rack's current tables from a row of (tables_generation, tables_sha256, size).
    static func announcement(rack: String, row: PostgresRow) -> PublishedTables? {
        guard let generation = row["tables_generation"].flatMap(UInt64.init), let sha = row["tables_sha256"] else { return nil }
        return PublishedTables(rackID: Int64(rack) ?? 0, generation: generation, sha256: sha, size: row["size"].flatMap(Int.init) ?? 0)
    }
}

extension PublishedTables {
    /// `{"generation": 17, "sha256": "…", "size": 81234}`, as the protocol spells it.
    var streamData: String { #"{"generation":\#(generation),"sha256":"\#(sha256)","size":\#(size)}"# }
}
