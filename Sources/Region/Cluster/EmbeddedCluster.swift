import ChildProcesses
import Foundation

/// The region's own PostgreSQL cluster, for running without `--database-url`: created with the
/// system's `initdb` under `directory`, started with `pg_ctl` on a unix socket only (no TCP port
/// at all), and stopped with the region.
///
/// PostgreSQL refuses to run as root, so when the region is root the tools run as the `postgres`
/// user through `runuser`, and the cluster's directory belongs to that user (mode 0700: only root
/// and `postgres` can reach the socket, which is why `trust` authentication is safe here).
public struct EmbeddedCluster: Sendable {
    /// Holds `data/` (the cluster), the socket and `server.log`.
    public let directory: String
    public let binaries: String
    /// Extra `postgres -c` settings (tests turn fsync off).
    public var serverSettings: [String: String] = [:]
    /// Skip initdb's final fsync (tests only).
    public var fastInit = false

    public static let databaseName = "rackplane"
    /// Names the socket file (`.s.PGSQL.5432`); nothing listens on TCP.
    static let port = 5432

    public init(directory: String, binaries: String) {
        self.directory = directory
        self.binaries = binaries
    }

    public var dataDirectory: String { directory + "/data" }
    public var logFile: String { directory + "/server.log" }

    /// The libpq connection string for the region's database in this cluster.
    public var connectionString: String { connectionString(database: Self.databaseName) }

    public func connectionString(database: String) -> String {
        "host='\(directory)' port=\(Self.port) user=postgres dbname='\(database)'"
    }

    /// Where `initdb` and `pg_ctl` live: `RACKPLANE_PG_BIN`, else the newest
    /// `/usr/lib/postgresql/N/bin` (Debian keeps them off the PATH), else the PATH.
    public static func findBinaries() -> String? {
        let fileManager = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["RACKPLANE_PG_BIN"] {
            return fileManager.isExecutableFile(atPath: configured + "/initdb") ? configured : nil
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? fileManager.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where fileManager.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where fileManager.isExecutableFile(atPath: "\(directory)/initdb") {
            return String(directory)
        }
        return nil
    }

    /// Creates the cluster on first use, starts it unless it already runs, and makes sure the
    /// region's database exists.
    public func start() throws {
        guard !directory.contains("'") else {
            throw ClusterError(step: "start", message: "the state directory may not contain a single quote: \(directory)")
        }
        try prepareDirectory()
        if !FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            var arguments = [binaries + "/initdb", "-D", dataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"]
            if fastInit { arguments.append("--no-sync") }
            try runTool("initdb", arguments)
        }
        if !isRunning() {
            var options = ["-k '\(directory)'", "-p \(Self.port)", "-c listen_addresses=''"]
            for (name, value) in serverSettings.sorted(by: { $0.key < $1.key }) { options.append("-c \(name)=\(value)") }
            do {
                try runTool("pg_ctl start", [binaries + "/pg_ctl", "-D", dataDirectory, "-w", "-l", logFile, "-o", options.joined(separator: " "), "start"])
            } catch let error as ClusterError {
                throw ClusterError(step: error.step, message: error.message + "\n" + logTail())
            }
        }
        try createDatabase(Self.databaseName)
    }

    /// Stops the cluster. `fast` ends sessions and loses nothing; `immediate` (tests) skips the
    /// shutdown checkpoint.
    public func stop(mode: String = "fast") throws {
        guard isRunning() else { return }
        try runTool("pg_ctl stop", [binaries + "/pg_ctl", "-D", dataDirectory, "-w", "-m", mode, "stop"])
    }

    /// Starts a watchdog that stops the cluster (immediately) and removes `removing` once the
    /// process `pid` is gone, however it ended: tests that crash must not leave a server behind.
    public func stopWhenProcessExits(_ pid: pid_t, removing: String) throws {
        let user = Self.runningAsRoot ? "/usr/sbin/runuser -u postgres -- " : ""
        let script = """
            while kill -0 \(pid) 2>/dev/null; do sleep 1; done
            \(user)'\(binaries)/pg_ctl' -D '\(dataDirectory)' -m immediate -w stop >/dev/null 2>&1
            rm -rf '\(removing)'
            """
        // In a process group of its own, so a Ctrl-C that ends the process it watches does not
        // end it too.
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        do {
            _ = try ChildProcess.spawn(["/bin/sh", "-c", script], output: null >= 0 ? null : nil)
        } catch {
            throw ClusterError(step: "watchdog", message: "\(error)")
        }
    }

    public func isRunning() -> Bool {
        guard FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") else { return false }
        return (try? runTool("pg_ctl status", [binaries + "/pg_ctl", "-D", dataDirectory, "status"])) != nil
    }

    /// Creates `name` unless it exists (tests make one database per test).
    public func createDatabase(_ name: String) throws {
        let connection = try PostgresConnection(connectionString(database: "postgres"))
        let exists = try connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]).rows.count == 1
        if !exists {
            // CREATE DATABASE takes no parameters: quote the identifier the way the server does.
            let quoted = try connection.query("SELECT quote_ident($1)", [name]).scalar ?? name
            try connection.query("CREATE DATABASE \(quoted)")
        }
    }

    // MARK: Running the tools

    private static var runningAsRoot: Bool { geteuid() == 0 }

    private func prepareDirectory() throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard Self.runningAsRoot else { return }
        guard let postgres = getpwnam("postgres") else {
            throw ClusterError(step: "prepare", message: "running as root needs a postgres user to run the cluster as (Debian's postgresql package creates it)")
        }
        guard chown(directory, postgres.pointee.pw_uid, postgres.pointee.pw_gid) == 0 else {
            throw ClusterError(step: "prepare", message: "chown \(directory): \(String(cString: strerror(errno)))")
        }
        // The postgres user must be able to walk down to its directory; the state directory's
        // own files (tokens, secret) stay 0600.
        let parent = (directory as NSString).deletingLastPathComponent
        var status = stat()
        if stat(parent, &status) == 0, status.st_mode & 0o001 == 0 {
            chmod(parent, (status.st_mode & 0o7777) | 0o001)
        }
    }

    /// Runs a PostgreSQL tool (as `postgres` when we are root) and returns what it printed;
    /// throws with that output when it fails.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process: its waitUntilExit never returned
    /// here when called from a Swift concurrency thread (the child stayed a zombie).
    @discardableResult
    private func runTool(_ step: String, _ arguments: [String]) throws -> String {
        // env -C /: the tools run from a directory the postgres user can read.
        let user = Self.runningAsRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        let command = user + ["/usr/bin/env", "-C", "/"] + arguments
        // pg_ctl hands the server's output to server.log (-l), so the pipe closes when the tool
        // exits; every other descriptor is close-on-exec, so the server it starts holds none
        // of ours. In a process group of its own, as the server then is: the region stops it.
        let status: Int32, printed: String
        do {
            (status, printed) = try ChildProcess.run(command)
        } catch {
            throw ClusterError(step: step, message: "\(error)")
        }
        guard status == 0 else {
            throw ClusterError(step: step, message: printed.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return printed
    }

    private func logTail() -> String {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return "" }
        return text.split(separator: "\n").suffix(10).joined(separator: "\n")
    }
}

public struct ClusterError: Error, CustomStringConvertible {
    public var step: String
    public var message: String
    public var description: String { "embedded PostgreSQL, \(step): \(message)" }
}
