/// Reads only the web UI makes: joined and counted views of the model for its pages, as JSON
/// (arrays of objects) like every other read. The API's own lists stay one table each.
extension RegionStore {
    /// Subnets with their VLAN and fabric, ranges, static addresses and live leases; one subnet
    /// with `id`.
    func subnetsOverviewJSON(id: String? = nil) async throws -> String {
        try await read { connection in
            try connection.query("""
                SELECT coalesce(json_agg(x ORDER BY x.cidr), '[]')::text FROM (
                    SELECT s.id, s.name, s.cidr, host(s.gateway) AS gateway, s.dns_servers, s.lease_seconds,
                        host(s.next_server) AS next_server, v.id AS vlan_id, v.vid, v.name AS vlan_name, v.dhcp_on,
                        f.name AS fabric, d.name AS domain,
                        (SELECT coalesce(json_agg(json_build_object(
                            'id', r.id, 'type', r.type, 'start_ip', host(r.start_ip), 'end_ip', host(r.end_ip), 'comment', r.comment)
                            ORDER BY r.start_ip), '[]') FROM ip_ranges r WHERE r.subnet_id = s.id) AS ranges,
                        (SELECT coalesce(json_agg(json_build_object(
                            'ip', host(n.ip), 'mac', n.mac, 'interface', n.name, 'machine_id', m.id, 'hostname', m.hostname)
                            ORDER BY n.ip), '[]')
                            FROM interfaces n JOIN machines m ON m.id = n.machine_id WHERE n.subnet_id = s.id AND n.ip IS NOT NULL) AS statics,
                        (SELECT count(*) FROM leases l WHERE l.ip << s.cidr AND l.expires_at > now()) AS active_leases
                    FROM subnets s JOIN vlans v ON v.id = s.vlan_id JOIN fabrics f ON f.id = v.fabric_id
                        LEFT JOIN domains d ON d.id = s.domain_id
                    WHERE $1::bigint IS NULL OR s.id = $1::bigint
                ) x
                """, [id]).scalar ?? "[]"
        }
    }

    /// Every IP range with its subnet.
    func rangesOverviewJSON() async throws -> String {
        try await read { connection in
            try connection.query("""
                SELECT coalesce(json_agg(x ORDER BY x.cidr, x.start_ip), '[]')::text FROM (
                    SELECT r.id, r.subnet_id, s.cidr, r.type, host(r.start_ip) AS start_ip, host(r.end_ip) AS end_ip,
                        (r.end_ip - r.start_ip) + 1 AS size, r.comment
                    FROM ip_ranges r JOIN subnets s ON s.id = r.subnet_id
                ) x
                """).scalar ?? "[]"
        }
    }

    /// Reported leases with the rack that holds each, the machine the MAC belongs to (if any),
    /// and whether it is still live.
    func leasesOverviewJSON(subnet: String? = nil, macs: [String]? = nil) async throws -> String {
        let macList = macs.map { SQLText.array($0) }
        return try await read { connection in
            try connection.query("""
                SELECT coalesce(json_agg(x ORDER BY x.sort_ip), '[]')::text FROM (
                    SELECT host(l.ip) AS ip, l.ip AS sort_ip, l.mac, l.hostname, l.state, l.expires_at, l.reported_at,
                        l.expires_at > now() AS live, r.id AS rack_id, r.name AS rack,
                        m.id AS machine_id, m.hostname AS machine
                    FROM leases l JOIN rack_controllers r ON r.id = l.rack_id
                        LEFT JOIN interfaces n ON n.mac = l.mac LEFT JOIN machines m ON m.id = n.machine_id
                    WHERE ($1::bigint IS NULL OR l.ip << (SELECT cidr FROM subnets WHERE id = $1::bigint))
                        AND ($2::macaddr[] IS NULL OR l.mac = ANY ($2::macaddr[]))
                ) x
                """, [subnet, macList]).scalar ?? "[]"
        }
    }

    /// Racks with their tables, when they last spoke to a region, the VLANs they serve and the
    /// leases they reported.
    func racksOverviewJSON() async throws -> String {
        try await read { connection in
            try connection.query("""
                SELECT coalesce(json_agg(x ORDER BY x.name), '[]')::text FROM (
                    SELECT r.id, r.name, r.description, r.tables_generation, r.tables_sha256, octet_length(t.bytes) AS tables_size,
                        t.created_at AS tables_compiled_at, r.last_contact_at,
                        floor(extract(epoch FROM now() - r.last_contact_at))::bigint AS contact_age_seconds,
                        r.leases_acked, r.image_files_wanted, r.image_files_ready, r.image_bytes_ready,
                        (SELECT count(*) FROM leases l WHERE l.rack_id = r.id AND l.expires_at > now()) AS live_leases,
                        (SELECT coalesce(json_agg(json_build_object('vid', v.vid, 'fabric', f.name,
                            'role', CASE WHEN v.primary_rack_id = r.id THEN 'primary' ELSE 'secondary' END) ORDER BY f.name, v.vid), '[]')
                            FROM vlans v JOIN fabrics f ON f.id = v.fabric_id
                            WHERE v.primary_rack_id = r.id OR v.secondary_rack_id = r.id) AS vlans
                    FROM rack_controllers r LEFT JOIN table_snapshots t ON t.sha256 = r.tables_sha256
                ) x
                """).scalar ?? "[]"
        }
    }

    /// Domains with their record counts, and every record with its domain's name.
    func dnsOverviewJSON() async throws -> (domains: String, records: String) {
        try await read { connection in
            let domains = try connection.query("""
                SELECT coalesce(json_agg(x ORDER BY x.name), '[]')::text FROM (
                    SELECT d.id, d.name, d.authoritative, d.ttl, d.is_default,
                        (SELECT count(*) FROM dns_records r WHERE r.domain_id = d.id) AS records,
                        (SELECT count(*) FROM machines m WHERE m.domain_id = d.id) AS machines
                    FROM domains d
                ) x
                """).scalar ?? "[]"
            let records = try connection.query("""
                SELECT coalesce(json_agg(x ORDER BY x.domain, x.name, x.type, x.value), '[]')::text FROM (
                    SELECT r.id, r.domain_id, d.name AS domain, r.name, r.type, r.value, r.ttl,
                        CASE WHEN r.name = '@' THEN d.name ELSE r.name || '.' || d.name END AS fqdn
                    FROM dns_records r JOIN domains d ON d.id = r.domain_id
                ) x
                """).scalar ?? "[]"
            return (domains, records)
        }
    }

    /// Subnets (id and cidr) and domains (id and name), for the choices of a form.
    func formChoicesJSON() async throws -> (subnets: String, domains: String) {
        try await read { connection in
            let subnets = try connection.query(
                "SELECT coalesce(json_agg(x ORDER BY x.cidr), '[]')::text FROM (SELECT id, cidr, name FROM subnets) x").scalar ?? "[]"
            let domains = try connection.query(
                "SELECT coalesce(json_agg(x ORDER BY x.name), '[]')::text FROM (SELECT id, name, is_default FROM domains) x").scalar ?? "[]"
            return (subnets, domains)
        }
    }

    /// How many machines are in each status.
    func machineStatusCounts() async throws -> [String: Int] {
        try await read { connection in
            var counts: [String: Int] = [:]
            for row in try connection.query("SELECT status, count(*) AS n FROM machines GROUP BY status").rows {
                if let status = row["status"], let count = row["n"].flatMap(Int.init) { counts[status] = count }
            }
            return counts
        }
    }

    /// Hostnames by machine id, for messages about several machines.
    func machineHostnames(ids: [String]) async throws -> [String: String] {
        try await read { connection in
            var names: [String: String] = [:]
            for row in try connection.query("SELECT id, hostname FROM machines WHERE id = ANY ($1::bigint[])", [SQLText.array(ids)]).rows {
                if let id = row["id"], let hostname = row["hostname"] { names[id] = hostname }
            }
            return names
        }
    }
}
