import ArgumentParser
import Logging
import Region

struct RegionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "region",
        abstract: "Run the region: PostgreSQL state, REST API on :5240, table compiler.",
        subcommands: [RegionRunCommand.self, RegionSecretCommand.self],
        defaultSubcommand: RegionRunCommand.self)
}

struct RegionRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the region (the default: `rackplane region --state-dir DIR`).",
        discussion: """
        Without --database-url the region creates and runs its own PostgreSQL cluster under
        DIR/postgres (the system's initdb and pg_ctl, a unix socket only) and stops it on exit.
        On first start it prints an admin API token (kept in DIR/admin-token, mode 0600) and
        creates the rack secret (DIR/rack-secret). Stops on SIGINT or SIGTERM.
        """)

    @Option(help: "Where the embedded database, the first admin token and the rack secret are kept.")
    var stateDir: String

    @Option(help: "libpq connection string or postgresql:// URL of an existing server (several regions may share one).")
    var databaseURL: String?

    @Option(help: "Address and port of the REST API.")
    var listen: String = "0.0.0.0:5240"

    /// `ADDRESS:PORT`, `[IPv6]:PORT` or `:PORT` (all addresses).
    static func parseListen(_ text: String) -> (host: String, port: Int)? {
        guard let separator = text.lastIndex(of: ":"), let port = Int(text[text.index(after: separator)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<separator])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    func validate() throws {
        guard Self.parseListen(listen) != nil else {
            throw ValidationError("--listen must be ADDRESS:PORT, e.g. 0.0.0.0:5240 or [::1]:5240")
        }
    }

    func run() async throws {
        var options = RegionOptions(stateDirectory: stateDir, databaseURL: databaseURL)
        guard let (host, port) = Self.parseListen(listen) else { throw ValidationError("--listen must be ADDRESS:PORT") }
        options.host = host
        options.port = port
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        do {
            try await RegionServer(options: options).run()
        } catch {
            throw fail("region: \(error)")
        }
    }
}

struct RegionSecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Print the shared secret racks enrol with (created by the region's first start).")

    @Option(help: "The region's state directory.")
    var stateDir: String

    func run() throws {
        let state = StateDirectory(path: stateDir)
        guard let secret = try? state.read(StateDirectory.rackSecretFile), !secret.isEmpty else {
            throw fail("no rack secret in \(stateDir): the region creates it on its first start")
        }
        print(secret)
    }
}
