import Foundation
import Region
import Synchronization

/// A real PostgreSQL for the tests: one cluster per test run, made with initdb in a temporary
/// directory (the region's own `EmbeddedCluster`), and one fresh database per test. The cluster
/// is stopped and its directory removed when the test process exits.
enum TestPostgres {
    /// Tests that need PostgreSQL are skipped, with this reason, where initdb is missing.
    static let missingReason = "initdb not found: install Debian's postgresql (scripts/setup does) to run the region tests"
    static let binaries = EmbeddedCluster.findBinaries()
    static var isAvailable: Bool { binaries != nil }

    struct StartFailure: Error, CustomStringConvertible {
        var description: String
    }

    private static let shared: Result<EmbeddedCluster, StartFailure> = {
        guard let binaries else { return .failure(StartFailure(description: missingReason)) }
        var template = Array("/tmp/rackplane-region-tests-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } != nil }
        guard made else {
            return .failure(StartFailure(description: "mkdtemp: \(String(cString: strerror(errno)))"))
        }
        let root = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var cluster = EmbeddedCluster(directory: root + "/postgres", binaries: binaries)
        // Durability is not under test; speed is welcome.
        cluster.serverSettings = ["fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"]
        cluster.fastInit = true
        do {
            try cluster.start()
            // However this process ends (a crash included), the server stops and the directory goes.
            try cluster.stopWhenProcessExits(getpid(), removing: root)
        } catch {
            return .failure(StartFailure(description: "\(error)"))
        }
        sharedRoot.withLock { $0 = root }
        atexit {
            if case .success(let cluster) = TestPostgres.shared { try? cluster.stop(mode: "immediate") }
            if let root = TestPostgres.sharedRoot.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: root) }
        }
        return .success(cluster)
    }()

    private static let sharedRoot = Mutex<String?>(nil)
    private static let nextDatabase = Atomic<Int>(0)

    static func cluster() throws -> EmbeddedCluster { try shared.get() }

    /// A new, empty database; returns its connection string.
    static func freshDatabase() throws -> String {
        let cluster = try cluster()
        let name = "test_\(nextDatabase.add(1, ordering: .relaxed).newValue)"
        try cluster.createDatabase(name)
        return cluster.connectionString(database: name)
    }

    /// A new database with the schema applied.
    static func migratedDatabase() throws -> String {
        let connectionString = try freshDatabase()
        let connection = try PostgresConnection(connectionString)
        try Migrations.apply(on: connection)
        return connectionString
    }
}
