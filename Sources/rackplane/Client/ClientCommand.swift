import ArgumentParser
import Region

/// `--json` on every command that prints objects.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print the server's JSON instead of a table (for scripts).")
    var json = false

    /// The server's JSON as it came, or the table.
    func emit(_ reply: RegionClient.Reply, table: () -> String) {
        if json {
            print(reply.text.hasSuffix("\n") ? String(reply.text.dropLast()) : reply.text)
        } else {
            let text = table()
            if !text.isEmpty { print(text) }
        }
    }
}

/// A command that talks to the region: failures print `rackplane: MESSAGE` (the server's own
/// message when it refused) and exit with status 1.
protocol ClientCommand: AsyncParsableCommand {
    func run(_ client: RegionClient) async throws
}

extension ClientCommand {
    func run() async throws {
        do {
            try await run(RegionClient.configured())
        } catch let error as ClientError {
            throw fail("rackplane: \(error.description)")
        }
    }
}

/// A machine named by id, or by hostname or system id.
func machineID(_ reference: String, client: RegionClient) async throws -> String {
    if let id = Int64(reference), id > 0 { return String(id) }
    let found = try await client.get("/machines", query: [("q", reference)]).value.array
    guard let machine = found.first(where: { $0["hostname"]?.string == reference || $0["system_id"]?.string == reference }),
          let id = machine["id"]?.cell, id != "-" else {
        throw ClientError("no machine named \(reference)")
    }
    return id
}

/// An id given on the command line (a positive integer).
func objectID(_ text: String, _ what: String) throws -> Int64 {
    guard let id = Int64(text), id > 0 else { throw ClientError("\(what) must be an id (a positive integer), not \(text)") }
    return id
}
