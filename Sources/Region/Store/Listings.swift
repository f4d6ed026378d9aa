/// Lists the API and the web UI both show: any resource's rows, the event log, and the leases
/// racks reported.
extension RegionStore {
    /// The JSON array of every row of a resource, as the API lists it.
    func listJSON(_ resource: Resource) async throws -> String {
        let sql = resource.selectAllSQL()
        return try await read { try $0.query(sql).scalar ?? "[]" }
    }

    /// One row of a resource as JSON, or nil.
    func objectJSON(_ resource: Resource, id: String) async throws -> String? {
        let sql = resource.selectOneSQL
        return try await read { try $0.query(sql, [id]).scalar }
    }

    /// Which events a listing shows, newest first.
    public struct EventFilter: Sendable, Hashable {
        /// 1…1000.
        public var limit: Int
        /// Only events about one machine (its own and its current interfaces').
        public var machineID: String?

        public init(limit: Int = 100, machineID: String? = nil) {
            self.limit = limit
            self.machineID = machineID
        }
    }

    /// Events as a JSON array, newest first.
    public func eventsJSON(_ filter: EventFilter = EventFilter()) async throws -> String {
        try await read { connection in
            try connection.query("""
                SELECT coalesce(json_agg(x ORDER BY x.id DESC), '[]')::text FROM
                    (SELECT id, at, actor, action, object_type, object_id, summary FROM events e
                     WHERE $2::text IS NULL
                        OR (e.object_type = 'machine' AND e.object_id = $2::text)
                        OR (e.object_type = 'interface' AND e.object_id IN
                            (SELECT n.id::text FROM interfaces n WHERE n.machine_id::text = $2::text))
                     ORDER BY id DESC LIMIT $1::integer) x
                """, [String(filter.limit), filter.machineID]).scalar ?? "[]"
        }
    }

    /// Leases as racks reported them, by rack and address; with `macs`, only those MACs'.
    public func leasesJSON(macs: [String]? = nil) async throws -> String {
        let macList = macs.map { SQLText.array($0) }
        return try await read { connection in
            try connection.query("""
                SELECT coalesce(json_agg(x ORDER BY x.rack_id, x.ip), '[]')::text FROM
                    (SELECT rack_id, ip, sequence, mac, hostname, client_id, state, expires_at, reported_at FROM leases
                     WHERE $1::macaddr[] IS NULL OR mac = ANY ($1::macaddr[])) x
                """, [macList]).scalar ?? "[]"
        }
    }
}
