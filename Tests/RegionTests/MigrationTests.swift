import Foundation
import Testing
@testable import Region
import Wire

@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct MigrationTests {
    @Test func appliesOnceAndRecordsTheVersion() throws {
        let connection = try PostgresConnection(try TestPostgres.freshDatabase())
        #expect(try Migrations.apply(on: connection) == Migrations.all.map(\.version))
        #expect(try Migrations.apply(on: connection) == [])
        let versions = try connection.query("SELECT version FROM schema_migrations ORDER BY version").rows.compactMap { $0[0] }
        #expect(versions == Migrations.all.map { String($0.version) })
        // The schema is there: the default domain the migration inserts.
        #expect(try connection.query("SELECT name FROM domains WHERE is_default").scalar == "maas")
    }

    /// Regions starting together: the advisory lock makes one apply and the others find nothing to do.
    @Test func concurrentStartsApplyEachMigrationOnce() async throws {
        let connectionString = try TestPostgres.freshDatabase()
        let results = try await withThrowingTaskGroup(of: [Int].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let connection = try PostgresConnection(connectionString)
                    return try Migrations.apply(on: connection)
                }
            }
            return try await group.reduce(into: [[Int]]()) { $0.append($1) }
        }
        #expect(results.filter { !$0.isEmpty } == [Migrations.all.map(\.version)])
        let connection = try PostgresConnection(connectionString)
        #expect(try connection.query("SELECT count(*) FROM schema_migrations").scalar == String(Migrations.all.count))
    }

    /// Every NNN_name.sql in the folder is listed, numbered 1, 2, 3… without gaps.
    @Test func listMatchesTheMigrationsFolder() throws {
        let folder = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/Region/Store/Migrations")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        let listed = Migrations.all.map { String(format: "%03d_%@.sql", $0.version, $0.name) }
        #expect(files == listed)
        let versions = Migrations.all.map(\.version)
        #expect(versions == Array(1...versions.count))
    }

    @Test func statementErrorsCarrySQLStateAndConstraint() throws {
        let connection = try PostgresConnection(try TestPostgres.migratedDatabase())
        try connection.query("INSERT INTO fabrics (name) VALUES ($1)", ["fabric-0"])
        let error = #expect(throws: PostgresError.self) {
            try connection.query("INSERT INTO fabrics (name) VALUES ($1)", ["fabric-0"])
        }
        #expect(error?.sqlState == SQLState.uniqueViolation)
        #expect(error?.constraint == "fabrics_name_key")
        // Parameters are values, never SQL.
        try connection.query("INSERT INTO fabrics (name, description) VALUES ($1, $2)", ["fabric-1", "'); DROP TABLE fabrics; --"])
        #expect(try connection.query("SELECT description FROM fabrics WHERE name = $1", ["fabric-1"]).scalar == "'); DROP TABLE fabrics; --")
    }

    /// The model's triggers tell the compilers of a statement that changed rows, and of no other
    /// (migration 016): an UPDATE, DELETE or INSERT that touches nothing sends no notification
    /// and moves no change counter; one that inserts, updates or deletes a row does both.
    @Test func onlyStatementsThatChangeRowsTellTheCompilers() throws {
        let connectionString = try TestPostgres.migratedDatabase()
        let listener = try PostgresConnection(connectionString)
        try listener.query("LISTEN rackplane_model_changed")
        let writer = try PostgresConnection(connectionString)
        func counters() throws -> [String?] {
            try writer.query("SELECT last_value::text FROM model_interfaces_changes").rows.map { $0[0] }
                + writer.query("SELECT last_value::text FROM model_records_changes").rows.map { $0[0] }
        }
        func heard() throws -> [String] {
            // Notifications go out at commit; this round trip reads whatever came before it.
            _ = try listener.query("SELECT 1")
            return try listener.drainNotifications().map(\.payload)
        }
        let before = try counters()
        for statement in [
            "UPDATE machines SET status = status WHERE false",
            "DELETE FROM interfaces WHERE false",
            "UPDATE boot_tokens SET used_at = now() WHERE false",
            "DELETE FROM dns_records WHERE false",
            "INSERT INTO domains (name) SELECT 'never.example' WHERE false",
            "UPDATE subnets SET gateway = gateway WHERE false",
        ] {
            try writer.query(statement)
        }
        #expect(try heard() == [])
        #expect(try counters() == before)

        let domain = try #require(try writer.query("INSERT INTO domains (name) VALUES ('rows.example') RETURNING id::text").scalar)
        try writer.query("INSERT INTO dns_records (domain_id, name, type, value) VALUES ($1::bigint, 'www', 'A', '198.18.0.1')", [domain])
        try writer.query("UPDATE dns_records SET value = '198.18.0.2' WHERE domain_id = $1::bigint", [domain])
        try writer.query("DELETE FROM dns_records WHERE domain_id = $1::bigint", [domain])
        #expect(try heard() == ["domains", "dns_records", "dns_records", "dns_records"])
        let after = try counters()
        #expect(after[0] == before[0])
        #expect(after[1] != before[1])
    }

    /// Snapshots are stored LZ4-compressed where the server has LZ4 (Debian's does), and come
    /// back byte for byte.
    @Test func snapshotsAreStoredCompressed() throws {
        let connection = try PostgresConnection(try TestPostgres.migratedDatabase())
        let lz4 = try connection.query(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)").rows.count == 1
        let method = try connection.query("""
            SELECT attcompression FROM pg_attribute WHERE attrelid = 'table_snapshots'::regclass AND attname = 'bytes'
            """).scalar
        #expect(method == (lz4 ? "l" : ""))
        // 2 MB of repeating records, like a zone section's names and answers.
        let bytes = (0..<2_000_000).map { UInt8(truncatingIfNeeded: $0 % 24 == 0 ? $0 / 24 : $0 % 24) }
        try connection.query("INSERT INTO table_snapshots (sha256, generation, bytes) VALUES ($1, 1, $2)",
                             parameters: [.text(String(repeating: "ab", count: 32)), .bytes(bytes)])
        #expect(try connection.bytes("SELECT bytes FROM table_snapshots WHERE generation = 1") == bytes)
        let stored = try connection.query("SELECT pg_column_size(bytes) FROM table_snapshots WHERE generation = 1").scalar.flatMap(Int.init) ?? 0
        if lz4 { #expect(stored < bytes.count / 2) }
    }

    /// Rows read in place match the copied rows, NULLs included; a failing statement throws
    /// its error and the body never runs.
    @Test func rowsReadInPlace() throws {
        let connection = try PostgresConnection(try TestPostgres.migratedDatabase())
        let sql = """
            SELECT k, CASE WHEN k % 3 = 0 THEN NULL ELSE format('h%s', k) END, '198.18.0.' || k, -k * 1000000000000
            FROM generate_series(1, 250) k ORDER BY k
            """
        let copied = try connection.query(sql).rows
        var seen = 0
        try connection.forEachRow(sql) { row throws(PostgresError) in
            let expected = copied[seen]
            #expect(try row.integer(0) == Int64(expected[0]!))
            #expect(row.optionalString(1) == expected[1])
            #expect(row.bytes(2).flatMap(IPv4Address.init(ascii:)) == IPv4Address(expected[2]!))
            #expect(row.optionalInteger(3) == Int64(expected[3]!))
            seen += 1
        }
        #expect(seen == 250)
        #expect(PostgresRowView.parseInteger(UnsafeRawBufferPointer(start: nil, count: 0)) == nil)
        for bad in ["-", "1x", "99999999999999999999", "+1"] {
            #expect(Array(bad.utf8).withUnsafeBytes { PostgresRowView.parseInteger($0) } == nil, "\(bad)")
        }
        let error = #expect(throws: PostgresError.self) {
            try connection.forEachRow("SELECT 1 / 0") { _ throws(PostgresError) in Issue.record("a row of a failed statement") }
        }
        #expect(error?.sqlState == "22012")
    }

    @Test func connectionErrorIsTyped() {
        let error = #expect(throws: PostgresError.self) {
            try PostgresConnection("host=/nonexistent-rackplane-socket-dir dbname=x connect_timeout=1")
        }
        #expect(error?.kind == .connection)
    }

    @Test func poolRunsMoreCallersThanConnections() async throws {
        let pool = PostgresPool(connectionString: try TestPostgres.migratedDatabase(), maximumConnections: 2)
        defer { pool.close() }
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 1...20 {
                group.addTask { try await pool.withConnection { Int(try $0.query("SELECT $1::integer", [String(value)]).scalar ?? "") ?? 0 } }
            }
            return try await group.reduce(0, +)
        }
        #expect(sum == 210)
        #expect(pool.openConnections <= 2)
    }
}
