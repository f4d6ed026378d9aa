import ArgumentParser
import Region

extension MachinesCommand {
    /// `rackplane machines power on|off|cycle|soft-off|query MACHINE…` (docs/power.md).
    struct Power: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "power",
            abstract: "Power machines on, off, cycle or soft-off, or query them, through the rack that serves each.")
        @Argument(help: "on, off, cycle, soft-off or query.") var action: String
        @Argument(help: "Machines: ids, hostnames or system ids.") var machines: [String]
        @Flag(help: "Make the next boot a network boot first.") var pxe = false
        @Option(help: "Seconds to wait for each result (0-25).") var wait = 25
        @OptionGroup var output: OutputOptions

        func run(_ client: RegionClient) async throws {
            guard ["on", "off", "cycle", "soft-off", "query"].contains(action) else {
                throw ClientError("no power action \(action) (on, off, cycle, soft-off, query)")
            }
            guard !machines.isEmpty else { throw ClientError("name at least one machine") }
            guard (0...25).contains(wait) else { throw ClientError("--wait must be 0-25 seconds") }
            var rows: [[String]] = []
            var replies: [String] = []
            var failed: [String] = []
            for machine in machines {
                do {
                    let id = try await machineID(machine, client: client)
                    var query = [("wait", String(wait))]
                    if pxe { query.append(("boot", "pxe")) }
                    let reply = try await client.request("POST", "/machines/\(id)/power/\(action)", query: query)
                    let value = reply.value
                    rows.append([machine, value.cell("status"), value.cell("state"), value.cell("error"), value.cell("message")])
                    replies.append(reply.text)
                    if value["status"]?.string == "failed" { failed.append("\(machine): \(value.cell("message"))") }
                } catch let error as ClientError {
                    failed.append("\(machine): \(error.description)")
                }
            }
            if output.json {
                if !replies.isEmpty { print("[" + replies.joined(separator: ",") + "]") }
            } else if !rows.isEmpty {
                print(TableOutput.render(header: ["MACHINE", "STATUS", "STATE", "ERROR", "MESSAGE"], rows: rows))
            }
            if !failed.isEmpty { throw ClientError(failed.joined(separator: "\nrackplane: ")) }
        }
    }
}
