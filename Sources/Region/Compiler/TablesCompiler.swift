import Foundation
import Site
import Tables
import Wire

/// Compiles the model into each rack's table snapshot: content-addressed (SHA-256 of the
/// bytes), stored in `table_snapshots`, and recorded on the rack with a generation that rises
/// on every change. A rack whose tables would not change keeps its generation.
public struct TablesCompiler: Sendable {
    /// Serialises compiles across region processes (any 64-bit number, the same everywhere).
    static let advisoryLockKey = "7386112830174217002"
    /// Where every region learns of new generations (payload: JSON of `PublishedTables`).
    public static let publishChannel = "rackplane_tables"

    /// What the compiler renders into boot command lines: tokens, URLs, the ephemeral image.
    public var boot: CompilerBootSettings

    public init(boot: CompilerBootSettings = CompilerBootSettings()) {
        self.boot = boot
    }

    /// What one pass did.
    public struct Report: Sendable {
        /// Racks whose tables changed, with their new generation.
        public var published: [PublishedTables] = []
        /// Racks whose model did not compile (they keep their previous tables), with the reason.
        public var failed: [Int64: String] = [:]
        /// Where the pass spent its time.
        public var timings = Timings()
        /// Parts of the model taken from the cache instead of read ("interfaces", "records").
        public var cachedModelParts: [String] = []
    }

    /// Wall-clock time per phase of one pass, summed over the racks.
    public struct Timings: Sendable {
        /// Reading the model from PostgreSQL.
        public var model: Duration = .zero
        /// Turning the model into each rack's site and fingerprinting it.
        public var fingerprint: Duration = .zero
        /// Building the snapshots that changed and their content addresses.
        public var build: Duration = .zero
        /// Waiting for their checks (each runs beside its content address); at its end this
        /// process's racks have been told.
        public var check: Duration = .zero
        /// Storing and recording them, and the NOTIFY that tells other region processes; with a
        /// `SnapshotStorer` (the region's compiler), only the wait for the store before each.
        public var store: Duration = .zero
        public var total: Duration { model + fingerprint + build + check + store }
    }

    /// Compiles every rack on `connection`, reading the whole model, and prunes superseded
    /// snapshots at the end.
    public func compileAll(on connection: PostgresConnection) throws -> Report {
        try compileAll(on: connection, cache: nil, prune: true)
    }

    /// With a `cache`, the interfaces and records are read only if their change counters moved
    /// (`CompilerModelCache`). Without `prune`, the caller prunes (`prune(on:)`).
    /// `checked` gets each new snapshot once it has passed its check and before it is stored:
    /// the region serves it to its own racks from memory meanwhile (the store of 47 MB at 100k
    /// machines took 0.28 s of every write's way to the racks). Racks of other region
    /// processes hear of it from the NOTIFY once it is stored.
    /// With a `storer`, each snapshot is stored on the storer's thread once it is announced,
    /// and the pass goes on (`SnapshotStorer`); the compile lock is then kept after the pass
    /// while a store is in flight, and the caller releases it (`releaseLockIfIdle`).
    func compileAll(on connection: PostgresConnection, cache: CompilerModelCache?, prune: Bool,
                    storer: SnapshotStorer? = nil,
                    checked: (_ tables: PublishedTables, _ bytes: [UInt8]) -> Void = { _, _ in }) throws -> Report {
        guard let storer else {
            return try Self.withCompileLock(on: connection) {
                try compileLocked(on: connection, cache: cache, prune: prune, storer: nil, checked: checked)
            }
        }
        if !storer.holdsCompileLock {
            try connection.query("SELECT pg_advisory_lock($1::bigint)", [Self.advisoryLockKey])
            storer.holdsCompileLock = true
        }
        defer { Self.releaseLockIfIdle(storer, on: connection) }
        storer.passBegins()
        return try compileLocked(on: connection, cache: cache, prune: prune, storer: storer, checked: checked)
    }

    /// Releases the compile lock kept for `storer` once no store is in flight.
    static func releaseLockIfIdle(_ storer: SnapshotStorer, on connection: PostgresConnection) {
        guard storer.holdsCompileLock, storer.isIdle else { return }
        _ = try? connection.query("SELECT pg_advisory_unlock($1::bigint)", [advisoryLockKey])
        storer.holdsCompileLock = false
    }

    /// Serialises compiles (and pruning) across region processes.
    static func withCompileLock<T>(on connection: PostgresConnection, _ body: () throws -> T) throws -> T {
        try connection.query("SELECT pg_advisory_lock($1::bigint)", [advisoryLockKey])
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1::bigint)", [advisoryLockKey]) }
        return try body()
    }

    private func compileLocked(on connection: PostgresConnection, cache: CompilerModelCache?, prune: Bool,
                               storer: SnapshotStorer?,
                               checked: (_ tables: PublishedTables, _ bytes: [UInt8]) -> Void) throws -> Report {
        let clock = ContinuousClock()
        // Lock first, then one snapshot of the model: a compile never starts from a model older
        // than the one another region's compile just published. The snapshot is only read;
        // what the pass writes goes in short transactions of its own afterwards, so a rack
        // touching its row meanwhile (a keepalive, a report) cannot fail the pass, and only
        // compilers — serialised by the lock — write the rows' tables columns.
        var report = Report()
        var mark = clock.now
        func lap() -> Duration {
            let now = clock.now
            defer { mark = now }
            return now - mark
        }
        let (model, racks, waiting) = try connection.transaction(isolation: .repeatableRead) { connection in
            (try Self.loadModel(on: connection, bootResource: boot.bootResource, cache: cache, cached: &report.cachedModelParts),
             try connection.query("SELECT id, tables_fingerprint, tables_generation, region_url FROM rack_controllers ORDER BY id").rows,
             // Lifecycle power cycles this model already holds: the tables built from it carry
             // their machines' new purpose and token, so the cycles may go once racks serve them.
             try connection.query("""
                SELECT rack_id, '{' || string_agg(id::text, ',') || '}' AS ids FROM power_requests
                WHERE status = 'pending' AND after_generation IS NOT NULL AND ready_generation IS NULL GROUP BY rack_id
                """).rows.reduce(into: [Int64: String]()) { waiting, row in
                    if let rack = row["rack_id"].flatMap(Int64.init), let ids = row["ids"] { waiting[rack] = ids }
                })
        }
        report.timings.model += lap()
        cache?.keepPreparations(of: Set(try racks.map { try $0.integer("id") }))
        for rack in racks {
            let rackID = try rack.integer("id")
            let waitingCycles = waiting[rackID]
            let kept = cache?.preparation(rack: rackID)
            let site = RackSiteBuilder.site(forRack: rackID, model: model, boot: boot, rackRegionURL: rack["region_url"],
                                            machinesCache: kept?.machines)
            let leases = RackSiteBuilder.leaseNames(forRack: rackID, site: site, model: model)
            // The content without generation or time: equal fingerprints mean equal tables.
            let prepared = SiteCompiler.prepare(site, leases: leases, reusing: kept?.site)
            let fingerprint = hexString(prepared.fingerprint())
            report.timings.fingerprint += lap()
            // A store still in flight: its row is what the rack will have.
            let pending = storer?.pending[rackID]
            if fingerprint == pending?.fingerprint ?? rack["tables_fingerprint"] {
                // Unchanged: the generation in place already holds what those cycles wait for.
                if let waitingCycles, let current = pending?.generation ?? rack["tables_generation"] {
                    try Self.markReady(waitingCycles, generation: current, on: connection)
                }
                continue
            }
            let generation = try connection.query("SELECT nextval('tables_generation')").scalar.flatMap(UInt64.init) ?? 0
            let bytes: [UInt8]
            do {
                bytes = try SiteCompiler.compile(prepared, generation: generation, createdAt: UInt64(Date().timeIntervalSince1970),
                                                 validate: false)
            } catch {
                report.failed[rackID] = "\(error)"
                report.timings.build += lap()
                continue
            }
            // The snapshot is checked on a second thread while this one hashes it for its
            // content address: nothing is announced, stored or recorded unless the check passed.
            let check = SideThread { TableSnapshot.validationError(bytes) }
            let digest = hexString(SHA256.hash(bytes))
            report.timings.build += lap()
            if let failure = check.result() {
                // The rack keeps its tables, as when the build itself fails.
                report.failed[rackID] = "\(failure)"
                report.timings.check += lap()
                continue
            }
            let announcement = PublishedTables(rackID: rackID, generation: generation, sha256: digest, size: bytes.count)
            checked(announcement, bytes)
            report.timings.check += lap()
            let job = SnapshotStorer.Job(tables: announcement, bytes: bytes, fingerprint: fingerprint, waitingCycles: waitingCycles)
            if let storer {
                // Stored beside the next rack's compile, or the next pass; the wait here is for
                // the store before it.
                storer.submit(job)
                report.published.append(announcement)
            } else if try Self.store(job, on: connection) {
                report.published.append(announcement)
            }
            report.timings.store += lap()
        }
        if prune, !report.published.isEmpty {
            try Self.pruneSnapshots(on: connection)
            report.timings.store += lap()
        }
        return report
    }

    /// Stores a snapshot and records it on its rack, with the NOTIFY that tells every region
    /// process; false if the rack's row was not updated (the rack was deleted meanwhile, or a
    /// store of a newer generation landed first: a row never goes back).
    static func store(_ job: SnapshotStorer.Job, on connection: PostgresConnection) throws -> Bool {
        let tables = job.tables
        let payload = String(decoding: try JSONEncoder().encode(tables), as: UTF8.self)
        return try connection.transaction { connection in
            // The pass does not wait for 12 MB of WAL to reach the disk. Its effects (the
            // announcement, the rack's row, cycles marked ready) are seen before they are
            // durable; a crash that loses them leaves racks serving a generation the database
            // forgot, and the next pass, from the model's own durable writes, publishes a
            // higher one (the sequence is not rolled back).
            try connection.query("SET LOCAL synchronous_commit = off")
            try connection.query("""
                INSERT INTO table_snapshots (sha256, generation, bytes) VALUES ($1, $2::bigint, $3)
                ON CONFLICT (sha256) DO NOTHING
                """, parameters: [.text(tables.sha256), .text(String(tables.generation)), .bytes(job.bytes)])
            let updated = try connection.query("""
                UPDATE rack_controllers SET tables_generation = $2::bigint, tables_sha256 = $3, tables_fingerprint = $4
                WHERE id = $1::bigint AND (tables_generation IS NULL OR tables_generation < $2::bigint) RETURNING id
                """, [String(tables.rackID), String(tables.generation), tables.sha256, job.fingerprint]).rows.count == 1
            if updated {
                if let cycles = job.waitingCycles { try Self.markReady(cycles, generation: String(tables.generation), on: connection) }
                try connection.query("SELECT pg_notify($1, $2)", [Self.publishChannel, payload])
            }
            return updated
        }
    }

    /// Prunes superseded snapshots under the compilers' lock.
    static func prune(on connection: PostgresConnection) throws {
        try withCompileLock(on: connection) { try pruneSnapshots(on: connection) }
    }

    /// Lifecycle power cycles (ids as a Postgres array literal) whose machines' new state is in
    /// `generation`: they go to the rack once it serves that generation (`PowerRoutes.readySQL`).
    static func markReady(_ ids: String, generation: String, on connection: PostgresConnection) throws {
        try connection.query(
            "UPDATE power_requests SET ready_generation = $2::bigint WHERE id = ANY ($1::bigint[]) AND ready_generation IS NULL",
            [ids, generation])
    }

    /// Superseded snapshots kept besides those the racks serve: a rack still downloading one
    /// finishes; older ones are deleted (one per write would otherwise pile up: 1,000 writes to
    /// a 100k-machine model are 14 GB).
    static let supersededSnapshotsKept = 4

    static func pruneSnapshots(on connection: PostgresConnection) throws {
        try connection.query("""
            DELETE FROM table_snapshots t
            WHERE NOT EXISTS (SELECT 1 FROM rack_controllers r WHERE r.tables_sha256 = t.sha256)
              AND t.sha256 NOT IN (
                SELECT s.sha256 FROM table_snapshots s
                WHERE NOT EXISTS (SELECT 1 FROM rack_controllers r WHERE r.tables_sha256 = s.sha256)
                ORDER BY s.generation DESC LIMIT $1::int)
            """, [String(Self.supersededSnapshotsKept)])
    }

    /// Reads what the racks serve, IPv4 only (the rack's DHCP is DHCPv4).
    static func loadModel(on connection: PostgresConnection, bootResource: String? = nil,
                          cache: CompilerModelCache? = nil, cached: inout [String]) throws -> CompilerModel {
        let started = ContinuousClock.now
        // The first statement takes the snapshot; the counters are read after it, so every
        // commit the snapshot sees has moved its counter already (`is_called`: 0 until the first).
        let defaultDomain = try connection.query("SELECT name FROM domains WHERE is_default").scalar ?? "maas"
        let counters = try connection.query("""
            SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM model_interfaces_changes) AS interfaces,
                   (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM model_records_changes) AS records
            """).rows.first
        let interfacesCounter = try counters?.integer("interfaces") ?? 0
        let recordsCounter = try counters?.integer("records") ?? 0
        // The records' sort by id (100k rows, about 5 MB) went to disk with the default 4 MB.
        try connection.query("SET LOCAL work_mem = '32MB'")
        let vlans = try connection.query("SELECT id, dhcp_on, primary_rack_id, secondary_rack_id, relay_vlan_id, mtu FROM vlans").rows.map { row in
            CompilerModel.VLAN(
                id: try row.integer("id"), dhcpOn: row.bool("dhcp_on"),
                primaryRack: row["primary_rack_id"].flatMap(Int64.init), secondaryRack: row["secondary_rack_id"].flatMap(Int64.init),
                relayVLAN: row["relay_vlan_id"].flatMap(Int64.init), mtu: Int(try row.integer("mtu")))
        }
        let subnets = try connection.query("""
            SELECT s.id, s.vlan_id, host(s.cidr) AS network, masklen(s.cidr) AS prefix, host(s.gateway) AS gateway,
                   array_to_string(ARRAY(SELECT host(a) FROM unnest(s.dns_servers) a WHERE family(a) = 4), ',') AS dns,
                   host(s.next_server) AS next_server, s.lease_seconds, d.name AS domain
            FROM subnets s LEFT JOIN domains d ON d.id = s.domain_id
            WHERE family(s.cidr) = 4
            """).rows.compactMap { row -> CompilerModel.Subnet? in
            guard let network = row["network"].flatMap(IPv4Address.init) else { return nil }
            return CompilerModel.Subnet(
                id: try row.integer("id"), vlan: try row.integer("vlan_id"), network: network,
                prefixLength: Int(try row.integer("prefix")),
                gateway: row["gateway"].flatMap(IPv4Address.init),
                dnsServers: (row["dns"] ?? "").split(separator: ",").compactMap { IPv4Address($0) },
                nextServer: row["next_server"].flatMap(IPv4Address.init),
                leaseSeconds: UInt32(clamping: try row.integer("lease_seconds")), domain: row["domain"])
        }
        let ranges = try connection.query("""
            SELECT subnet_id, type, host(start_ip) AS start_ip, host(end_ip) AS end_ip FROM ip_ranges WHERE family(start_ip) = 4
            """).rows.compactMap { row -> CompilerModel.Range? in
            guard let start = row["start_ip"].flatMap(IPv4Address.init), let end = row["end_ip"].flatMap(IPv4Address.init) else { return nil }
            return CompilerModel.Range(subnet: try row.integer("subnet_id"), dynamic: row["type"] == "dynamic", start: start, end: end)
        }
        let interfaces: [CompilerModel.Interface]
        if let kept = cache?.interfaces(at: interfacesCounter) {
            interfaces = kept
            cached.append("interfaces")
        } else {
            let read = try readInterfaces(on: connection)
            interfaces = read.interfaces
            // Kept until the first of their tokens expires (a second early: `now()` is the
            // transaction's start, a little before `started`).
            let expires = read.firstTokenExpiry.map { started + .milliseconds(Int64(($0 - 1) * 1000)) }
            cache?.store(interfaces: interfaces, at: interfacesCounter, expires: expires)
        }
        // The ephemeral environment machines boot to enlist, commission and deploy: the boot
        // resource named by the setting, else the first amd64 one, else the first.
        let image = try connection.query("""
            SELECT name || '/' || architecture || '/' || kernel_file AS kernel, name || '/' || architecture || '/' || initrd_file AS initrd
            FROM boot_resources WHERE $1::text IS NULL OR name = $1 ORDER BY architecture <> 'amd64', id LIMIT 1
            """, [bootResource]).rows.first.map { CompilerModel.BootImage(kernel: try $0.string("kernel"), initrd: try $0.string("initrd")) }
        let records: [CompilerModel.Record]
        if let kept = cache?.records(at: recordsCounter) {
            records = kept
            cached.append("records")
        } else {
            records = try readRecords(on: connection)
            cache?.store(records: records, at: recordsCounter)
        }
        let leaseNames = try connection.query("""
            SELECT host(ip) AS ip, hostname FROM leases
            WHERE state = 'bound' AND hostname IS NOT NULL AND hostname <> '' AND expires_at > now() AND family(ip) = 4
            ORDER BY ip
            """).rows.compactMap { row -> SiteLeaseName? in
            guard let address = row["ip"].flatMap(IPv4Address.init), let hostname = row["hostname"] else { return nil }
            return SiteLeaseName(hostname: hostname, address: address)
        }
        return CompilerModel(defaultDomain: defaultDomain, vlans: vlans, subnets: subnets, ranges: ranges, interfaces: interfaces,
                             records: records, leaseNames: leaseNames, bootImage: image, interfacesVersion: cache?.interfacesVersion)
    }

    /// A commissioning or deploying machine's unused, unexpired boot token (its nonce: the
    /// token is derived from it) rides with its interfaces; `firstTokenExpiry` is the seconds
    /// until the first of them expires.
    /// Read in place (columns by position, as selected): 100k rows are too many to copy into
    /// strings first.
    static func readInterfaces(on connection: PostgresConnection) throws -> (interfaces: [CompilerModel.Interface], firstTokenExpiry: Double?) {
        var interfaces: [CompilerModel.Interface] = []
        var firstTokenExpiry: Double?
        try connection.forEachRow("""
            SELECT i.subnet_id, i.mac::text AS mac, host(i.ip) AS ip, m.id AS machine_id, m.system_id, m.hostname,
                   m.architecture, m.boot_purpose, t.nonce, extract(epoch FROM t.expires_at - now()) AS expires_in
            FROM interfaces i JOIN machines m ON m.id = i.machine_id
            LEFT JOIN boot_tokens t ON t.machine_id = m.id AND t.used_at IS NULL AND t.expires_at > now()
                AND t.purpose = m.boot_purpose AND m.status IN ('commissioning', 'deploying')
            WHERE i.subnet_id IS NOT NULL AND (i.ip IS NULL OR family(i.ip) = 4)
            """) { row throws(PostgresError) in
            guard let mac = row.bytes(1).flatMap(MACAddress.init(ascii:)) else { return }
            interfaces.append(CompilerModel.Interface(
                subnet: try row.integer(0), mac: mac, ip: row.bytes(2).flatMap(IPv4Address.init(ascii:)),
                hostname: try row.string(5), architecture: try row.string(6),
                bootPurpose: try row.string(7), machineID: try row.integer(3),
                systemID: try row.string(4), tokenNonce: row.optionalString(8)))
            if let seconds = row.optionalString(9).flatMap(Double.init) {
                firstTokenExpiry = min(firstTokenExpiry ?? seconds, seconds)
            }
        }
        return (interfaces, firstTokenExpiry)
    }

    /// In the order they were created (by id): that fixes the order of an RRset's records and,
    /// of two that cannot both be (a CNAME and other data at one name), which one the zones keep
    /// (the first). Sorted by their text (domain, name, type, value), 100k rows took PostgreSQL
    /// 112–116 ms, against 26 ms unsorted; by id, with `work_mem` for the sort, the model read
    /// of a pass that reads them fell from 136 to 84 ms (`docs/benchmarks.md`, region).
    static func readRecords(on connection: PostgresConnection) throws -> [CompilerModel.Record] {
        var records: [CompilerModel.Record] = []
        try connection.forEachRow("""
            SELECT d.name AS domain, r.name, r.type, r.value, r.ttl FROM dns_records r JOIN domains d ON d.id = r.domain_id
            ORDER BY r.id
            """) { row throws(PostgresError) in
            records.append(CompilerModel.Record(domain: try row.string(0), name: try row.string(1), type: try row.string(2),
                                                value: try row.string(3), ttl: row.optionalInteger(4).flatMap { UInt32(exactly: $0) }))
        }
        return records
    }

    /// The snapshot with `sha256`, if it exists.
    public static func snapshot(sha256: String, on connection: PostgresConnection) throws -> [UInt8]? {
        try connection.bytes("SELECT bytes FROM table_snapshots WHERE sha256 = $1", [sha256])
    }
}

