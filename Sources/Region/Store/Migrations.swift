/// Numbered schema migrations, applied in order at start.
///
/// The SQL files sit in `Store/Migrations/NNN_name.sql` and are compiled into the binary
/// (`embedInCode`), so a region needs no files beside it. SwiftPM names each one after its file,
/// which is why the list below is written out; `MigrationTests` checks it against the folder.
public enum Migrations {
    public struct Migration: Sendable {
        public var version: Int
        public var name: String
        public var sql: String
    }

    public static let all: [Migration] = [
        Migration(version: 1, name: "initial", sql: String(decoding: PackageResources._01_initial_sql, as: UTF8.self)),
        Migration(version: 2, name: "rack_protocol", sql: String(decoding: PackageResources._02_rack_protocol_sql, as: UTF8.self)),
        Migration(version: 3, name: "static_outside_dynamic", sql: String(decoding: PackageResources._03_static_outside_dynamic_sql, as: UTF8.self)),
        Migration(version: 4, name: "lease_names_recompile", sql: String(decoding: PackageResources._04_lease_names_recompile_sql, as: UTF8.self)),
        Migration(version: 5, name: "unique_system_ids", sql: String(decoding: PackageResources._05_unique_system_ids_sql, as: UTF8.self)),
        Migration(version: 6, name: "boot_files", sql: String(decoding: PackageResources._06_boot_files_sql, as: UTF8.self)),
        Migration(version: 7, name: "web_sessions", sql: String(decoding: PackageResources._07_web_sessions_sql, as: UTF8.self)),
        Migration(version: 8, name: "rack_events", sql: String(decoding: PackageResources._08_rack_events_sql, as: UTF8.self)),
        Migration(version: 9, name: "power", sql: String(decoding: PackageResources._09_power_sql, as: UTF8.self)),
        Migration(version: 10, name: "boot_history", sql: String(decoding: PackageResources._10_boot_history_sql, as: UTF8.self)),
        Migration(version: 11, name: "lifecycle", sql: String(decoding: PackageResources._11_lifecycle_sql, as: UTF8.self)),
        Migration(version: 12, name: "serving_generation", sql: String(decoding: PackageResources._12_serving_generation_sql, as: UTF8.self)),
        Migration(version: 13, name: "snapshot_lz4", sql: String(decoding: PackageResources._13_snapshot_lz4_sql, as: UTF8.self)),
        Migration(version: 14, name: "boot_steps_rack_index", sql: String(decoding: PackageResources._14_boot_steps_rack_index_sql, as: UTF8.self)),
        Migration(version: 15, name: "model_change_counters", sql: String(decoding: PackageResources._15_model_change_counters_sql, as: UTF8.self)),
        Migration(version: 16, name: "model_changed_rows", sql: String(decoding: PackageResources._16_model_changed_rows_sql, as: UTF8.self)),
    ]

    /// Any 64-bit number, the same in every region process: the advisory lock that makes
    /// regions starting together apply migrations one at a time.
    static let advisoryLockKey = "7386112830174217001"

    /// Applies the migrations the database has not seen, in one transaction; returns the versions
    /// applied now (empty when the schema was already current).
    @discardableResult
    public static func apply(on connection: PostgresConnection) throws -> [Int] {
        try connection.transaction { connection in
            // Held until commit: a second region waits here, then finds nothing left to do.
            try connection.query("SELECT pg_advisory_xact_lock($1::bigint)", [advisoryLockKey])
            try connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let applied = Set(try connection.query("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap(Int.init) })
            var appliedNow: [Int] = []
            for migration in all.sorted(by: { $0.version < $1.version }) where !applied.contains(migration.version) {
                do {
                    try connection.execute(script: migration.sql)
                } catch {
                    throw MigrationError(version: migration.version, name: migration.name, underlying: error)
                }
                try connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1::integer, $2)",
                    [String(migration.version), migration.name])
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }
}

public struct MigrationError: Error, CustomStringConvertible {
    public var version: Int
    public var name: String
    public var underlying: any Error

    public var description: String { "migration \(version) (\(name)) failed: \(underlying)" }
}
