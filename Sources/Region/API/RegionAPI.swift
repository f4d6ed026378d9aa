import Hummingbird

/// The REST API on :5240: `/api/v1/…` behind bearer tokens, `/healthz` and `/metrics` open,
/// and the web UI under `/ui` (a session cookie opened with a token).
public enum RegionAPI {
    /// Larger bodies get 413; nothing in the model needs more.
    public static let maximumBodySize = 1 << 20

    public static func router(
        store: RegionStore, rackSecret: String, metrics: RegionMetrics, announcer: TablesAnnouncer,
        recentSnapshots: RecentSnapshots = RecentSnapshots(), streamKeepalive: Duration = .seconds(15), proxy: ProxyAdvertisement = .off
    ) -> Router<RegionRequestContext> {
        let router = Router(context: RegionRequestContext.self)
        router.middlewares.add(MetricsMiddleware(metrics: metrics))
        router.middlewares.add(ErrorMiddleware())
        router.middlewares.add(BodyLimitMiddleware())

        router.get("healthz") { _, _ -> Response in
            do {
                _ = try await store.read { try $0.query("SELECT 1").scalar }
                return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n")))
            } catch {
                throw APIError(.serviceUnavailable, "database unreachable")
            }
        }
        router.get("metrics") { _, _ -> Response in
            let text = metrics.render(openConnections: store.pool.openConnections)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }

        let api = router.group("api/v1").add(middleware: AuthMiddleware(store: store, rackSecret: rackSecret))
        CRUDRoutes<Resources.FabricInput>(resource: Resources.fabrics, store: store).register(on: api)
        CRUDRoutes<Resources.VLANInput>(resource: Resources.vlans, store: store).register(on: api)
        CRUDRoutes<Resources.SubnetInput>(resource: Resources.subnets, store: store).register(on: api)
        CRUDRoutes<Resources.RangeInput>(resource: Resources.ranges, store: store).register(on: api)
        CRUDRoutes<Resources.DomainInput>(resource: Resources.domains, store: store).register(on: api)
        CRUDRoutes<Resources.RecordInput>(resource: Resources.records, store: store).register(on: api)
        CRUDRoutes<Resources.BootResourceInput>(resource: Resources.bootResources, store: store).register(on: api)
        CRUDRoutes<Resources.RackInput>(resource: Resources.racks, store: store).register(on: api)
        ReportRoutes(store: store).register(on: api)
        MachineRoutes(store: store).register(on: api)
        AccessRoutes(store: store).register(on: api)
        RackTablesRoutes(store: store, recent: recentSnapshots).register(on: api)
        RackProtocolRoutes(store: store, announcer: announcer, keepalive: streamKeepalive).register(on: api)
        BootFileRoutes(store: store).register(on: api)
        PowerRoutes(store: store).register(on: api)
        EnlistRoutes(store: store).register(on: api)
        BootHistoryRoutes(store: store).register(on: api)
        ProxyRoutes(store: store, advertisement: proxy).register(on: api)
        WebRoutes(store: store).register(on: router)
        return router
    }

    /// The `:id` of the route as a positive integer; anything else names no object (404).
    static func id(_ context: RegionRequestContext, _ objectType: String) throws -> String {
        let text = context.parameters.get("id") ?? ""
        guard let number = Int64(text), number > 0 else { throw APIError.notFound(objectType, text) }
        return String(number)
    }

    /// `/api/v1/boot-resources/{id}/files/{kind}`: file uploads, streamed, not held to the
    /// JSON body limit.
    static func isUploadPath(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        return parts.count == 6 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "boot-resources" && parts[4] == "files"
    }

    /// `/api/v1/rack/…`: enrolment, the announcement stream, lease reports.
    static func isRackProtocolPath(_ path: String) -> Bool {
        path.hasPrefix("/api/v1/rack/")
    }

    /// `/api/v1/racks/{id}/tables` and below: what the rack secret may read besides.
    static func isTablesPath(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        return parts.count >= 5 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "racks" && parts[4] == "tables"
    }
}

/// A rack's current tables, and the snapshots by hash.
struct RackTablesRoutes: Sendable {
    let store: RegionStore
    let recent: RecentSnapshots

    func register(on group: RouterGroup<RegionRequestContext>) {
        group.get("racks/:id/tables") { _, context in
            let rack = try RegionAPI.id(context, "rack_controller")
            let row = try await store.read { connection in
                try connection.query("""
                    SELECT r.tables_generation, r.tables_sha256, octet_length(s.bytes) AS size
                    FROM rack_controllers r LEFT JOIN table_snapshots s ON s.sha256 = r.tables_sha256
                    WHERE r.id = $1::bigint
                    """, [rack]).rows.first
            }
            guard let row else { throw APIError.notFound("rack_controller", rack) }
            guard let current = RackProtocolRoutes.announcement(rack: rack, row: row) else {
                throw APIError(.notFound, "nothing is compiled for rack \(rack) yet")
            }
            return JSONBody.response(status: .ok, json: current.streamData)
        }
        group.get("racks/:id/tables/:sha256") { _, context in
            let rack = try RegionAPI.id(context, "rack_controller")
            let digest = context.parameters.get("sha256") ?? ""
            guard digest.count == 64, digest.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }) else {
                throw APIError(.notFound, "no snapshot \(digest): a snapshot is named by its SHA-256 in lower-case hex")
            }
            let kept = recent.bytes(sha256: digest)
            let stored = try await store.read { connection -> [UInt8]? in
                guard try connection.query("SELECT 1 FROM rack_controllers WHERE id = $1::bigint", [rack]).rows.count == 1 else {
                    throw APIError.notFound("rack_controller", rack)
                }
                return kept == nil ? try TablesCompiler.snapshot(sha256: digest, on: connection) : nil
            }
            guard let bytes = kept ?? stored else { throw APIError(.notFound, "no snapshot \(digest)") }
            return Response(
                status: .ok,
                headers: [.contentType: "application/octet-stream", .eTag: "\"\(digest)\""],
                body: Self.body(bytes))
        }
    }

    /// Bytes written out a piece at a time: one `ByteBuffer` of the whole snapshot is a fresh
    /// 47 MB allocation (and its page faults) per download at 100k machines; pieces of 1 MiB
    /// reuse the heap's memory.
    static func body(_ bytes: [UInt8], piece: Int = 1 << 20) -> ResponseBody {
        ResponseBody(contentLength: bytes.count) { writer in
            var start = 0
            while start < bytes.count {
                let end = min(start + piece, bytes.count)
                try await writer.write(ByteBuffer(bytes: bytes[start..<end]))
                start = end
            }
            try await writer.finish(nil)
        }
    }
}
