import ArgumentParser
import Region

struct MachinesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "machines",
        abstract: "List, show, create, commission, deploy and release machines (the region's REST API).",
        subcommands: [List.self, Show.self, Create.self, Commission.self, Deploy.self, Release.self, Delete.self, Power.self],
        defaultSubcommand: List.self)

    static let header = ["ID", "HOSTNAME", "STATUS", "ARCH", "POWER", "BOOT", "ADDRESSES"]

    static func row(_ machine: JSONValue) -> [String] {
        let fqdn = machine.cell("hostname") + (machine["domain"]?.string.map { "." + $0 } ?? "")
        return [machine.cell("id"), fqdn, machine.cell("status"), machine.cell("architecture"), machine.cell("power_type"),
                machine.cell("boot_purpose"), addresses(machine)]
    }

    /// Each interface's static address, or its MAC when it takes DHCP.
    static func addresses(_ machine: JSONValue) -> String {
        let cells = (machine["interfaces"]?.array ?? []).map { interface -> String in
            interface["ip"].flatMap(\.string) ?? "\(interface.cell("mac")) (dhcp)"
        }
        return cells.isEmpty ? "-" : cells.joined(separator: ", ")
    }

    /// The status, and why when it says (a failure's reason): "failed_commissioning: no report within 1800 s".
    static func statusCell(_ machine: JSONValue) -> String {
        let message = machine["status_message"]?.string ?? ""
        return machine.cell("status") + (message.isEmpty ? "" : ": " + message)
    }

    static func describe(_ machine: JSONValue) -> String {
        var text = TableOutput.fields([
            ("id", machine.cell("id")), ("hostname", machine.cell("hostname")), ("domain", machine.cell("domain")),
            ("system id", machine.cell("system_id")), ("status", statusCell(machine)), ("boots into", machine.cell("boot_purpose")),
            ("architecture", machine.cell("architecture")), ("power", machine.cell("power_type")),
            ("power parameters", machine.cell("power_parameters")), ("power state", machine.cell("power_state")), ("created", machine.time("created_at")), ("updated", machine.time("updated_at")),
        ])
        let interfaces = machine["interfaces"]?.array ?? []
        if !interfaces.isEmpty {
            text += "\n\n" + TableOutput.render(
                header: ["INTERFACE", "MAC", "MODE", "ADDRESS", "SUBNET"],
                rows: interfaces.map { [$0.cell("name"), $0.cell("mac"), $0.cell("mode"), $0.cell("ip"), $0.cell("subnet_id")] })
        }
        return text
    }

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List machines.")

        @Option(help: "Only machines in this status (new, commissioning, ready, deploying, deployed, releasing, broken, failed_commissioning, failed_deployment).")
        var status: String?

        @Option(name: [.customLong("search"), .customShort("q")], help: "Only machines whose hostname, system id, MAC or address contains this.")
        var search: String?

        @OptionGroup var output: OutputOptions

        func run(_ client: RegionClient) async throws {
            var query: [(String, String)] = []
            if let status { query.append(("status", status)) }
            if let search { query.append(("q", search)) }
            let reply = try await client.get("/machines", query: query)
            output.emit(reply) { TableOutput.render(header: MachinesCommand.header, rows: reply.value.array.map(MachinesCommand.row)) }
        }
    }

    struct Show: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show a machine: its interfaces, its latest boot steps (as racks reported them) and events, power events among them.",
            discussion: "--json prints the machine object only; its boot steps are GET /api/v1/machines/{id}/boots.")

        @Argument(help: "The machine: its id, hostname or system id.")
        var machine: String

        @Option(help: "How many of the latest boot steps and events to show (1-1000).")
        var history: Int = 15

        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard (1...1000).contains(history) else { throw ValidationError("--history must be from 1 to 1000") }
        }

        func run(_ client: RegionClient) async throws {
            let id = try await machineID(machine, client: client)
            let reply = try await client.get("/machines/\(id)")
            if output.json { return output.emit(reply) { "" } }
            let boots = try await client.get("/machines/\(id)/boots", query: [("limit", String(history))])
            let events = try await client.get("/events", query: [("machine", id), ("limit", String(history))])
            output.emit(reply) {
                MachinesCommand.describe(reply.value) + "\n\n" + MachinesCommand.bootSteps(boots.value) + "\n\n"
                    + MachinesCommand.events(events.value)
            }
        }
    }

    /// Newest first; each DHCP step is where a boot began.
    static func bootSteps(_ steps: JSONValue) -> String {
        let rows = steps.array
        guard !rows.isEmpty else { return "BOOT HISTORY: no boots reported by a rack yet" }
        return "BOOT HISTORY (newest first)\n" + TableOutput.render(
            header: ["WHEN", "STEP", "ADDRESS", "WHAT", "RESULT", "BYTES", "RACK"],
            rows: rows.map { step in
                let status = step["status"].flatMap { $0.isNull ? nil : $0.cell }
                // An HTTP step's status says it; its outcome only when the response was cut.
                let outcome = step.cell("outcome")
                let result = status.map { outcome == "ok" ? $0 : $0 + " " + outcome } ?? outcome
                return [step.time("at"), step.cell("stage").uppercased(), step.cell("address"), step.cell("name"), result,
                        step.cell("bytes"), step.cell("rack")]
            })
    }

    static func events(_ events: JSONValue) -> String {
        let rows = events.array
        guard !rows.isEmpty else { return "EVENTS: none" }
        return "EVENTS (newest first)\n" + TableOutput.render(
            header: ["WHEN", "WHO", "ACTION", "WHAT"],
            rows: rows.map { [$0.time("at"), $0.cell("actor"), $0.cell("action"), $0.cell("summary")] })
    }

    struct Create: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create a machine, with a boot interface when --mac is given (in one transaction).")

        @Argument(help: "Hostname (a DNS label).")
        var hostname: String

        @Option(help: "Architecture (default amd64).")
        var architecture: String?

        @Option(help: "manual, ipmi, redfish or webhook (default manual).")
        var powerType: String?

        @Option(help: "Domain id (default: the default domain).")
        var domainId: String?

        @Option(help: "The boot interface's MAC.")
        var mac: String?

        @Option(help: "The interface's subnet: an id or a CIDR.")
        var subnet: String?

        @Option(help: "A static address on that subnet (without it the interface takes DHCP).")
        var ip: String?

        @OptionGroup var output: OutputOptions

        func run(_ client: RegionClient) async throws {
            var body: [String: Any] = ["hostname": hostname]
            if let architecture { body["architecture"] = architecture }
            if let powerType { body["power_type"] = powerType }
            if let domainId { body["domain_id"] = try objectID(domainId, "--domain-id") }
            if let mac {
                var interface: [String: Any] = ["mac": mac]
                if let subnet { interface["subnet_id"] = try await subnetID(subnet, client: client) }
                if let ip { interface["ip"] = ip }
                body["interfaces"] = [interface]
            } else if subnet != nil || ip != nil {
                throw ClientError("--subnet and --ip describe the boot interface: give its --mac too")
            }
            let reply = try await client.request("POST", "/machines", body: body)
            output.emit(reply) { MachinesCommand.describe(reply.value) }
        }
    }

    struct Commission: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "commission", abstract: "Commission machines (from new, ready, broken or failed), power-cycling them into the commissioning environment.")
        @Argument(help: "Machines: ids, hostnames or system ids.") var machines: [String]
        @OptionGroup var output: OutputOptions
        func run(_ client: RegionClient) async throws { try await MachinesCommand.perform("commission", machines, client, output) }
    }

    struct Deploy: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "deploy", abstract: "Deploy machines (from ready).")
        @Argument(help: "Machines: ids, hostnames or system ids.") var machines: [String]
        @OptionGroup var output: OutputOptions
        func run(_ client: RegionClient) async throws { try await MachinesCommand.perform("deploy", machines, client, output) }
    }

    struct Release: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "release", abstract: "Release machines (from deployed or deploying).")
        @Argument(help: "Machines: ids, hostnames or system ids.") var machines: [String]
        @OptionGroup var output: OutputOptions
        func run(_ client: RegionClient) async throws { try await MachinesCommand.perform("release", machines, client, output) }
    }

    struct Delete: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a machine and its interfaces.")
        @Argument(help: "The machine: its id, hostname or system id.") var machine: String
        func run(_ client: RegionClient) async throws {
            let id = try await machineID(machine, client: client)
            try await client.request("DELETE", "/machines/\(id)")
            print("deleted machine \(machine)")
        }
    }

    /// The action on each machine in turn; every one is tried, and a refusal makes the exit
    /// status 1 after the others ran.
    static func perform(_ action: String, _ machines: [String], _ client: RegionClient, _ output: OutputOptions) async throws {
        guard !machines.isEmpty else { throw ClientError("name at least one machine") }
        var refused: [String] = []
        var rows: [[String]] = []
        var replies: [String] = []
        for machine in machines {
            do {
                let id = try await machineID(machine, client: client)
                let reply = try await client.request("POST", "/machines/\(id)/\(action)")
                rows.append(row(reply.value))
                replies.append(reply.text)
            } catch let error as ClientError {
                refused.append("\(machine): \(error.description)")
            }
        }
        if output.json {
            if !replies.isEmpty { print("[" + replies.joined(separator: ",") + "]") }
        } else if !rows.isEmpty {
            print(TableOutput.render(header: header, rows: rows))
        }
        if !refused.isEmpty { throw ClientError(refused.joined(separator: "\nrackplane: ")) }
    }
}

/// A subnet named by id or by CIDR.
func subnetID(_ reference: String, client: RegionClient) async throws -> Int64 {
    if let id = Int64(reference), id > 0 { return id }
    let subnets = try await client.get("/subnets").value.array
    guard let subnet = subnets.first(where: { $0["cidr"]?.string == reference }), let id = Int64(subnet.cell("id")) else {
        throw ClientError("no subnet \(reference)")
    }
    return id
}
