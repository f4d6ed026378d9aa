import ArgumentParser
import Region

// Fabrics and VLANs: what a subnet hangs from, and which rack serves DHCP on it. Not in the
// issue's list, but without them a new region cannot be given a network from the command line.

enum FabricKind: ResourceKind {
    static let path = "/fabrics"
    static let singular = "fabric"
    static let header = ["ID", "NAME", "DESCRIPTION"]
    static func row(_ fabric: JSONValue, names: [String: String]) -> [String] {
        [fabric.cell("id"), fabric.cell("name"), fabric.cell("description")]
    }
}

struct FabricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fabrics", abstract: "List, show, create and delete fabrics.",
        subcommands: [ListResources<FabricKind>.self, ShowResource<FabricKind>.self, Create.self, DeleteResource<FabricKind>.self],
        defaultSubcommand: ListResources<FabricKind>.self)

    struct Create: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a fabric.")
        @Argument(help: "Its name (a DNS label).") var name: String
        @Option(help: "A description.") var description: String?
        @OptionGroup var output: OutputOptions

        func run(_ client: RegionClient) async throws {
            var body: [String: Any] = ["name": name]
            put(description, "description", into: &body)
            let reply = try await client.request("POST", FabricKind.path, body: body)
            output.emit(reply) { describeObject(reply.value) }
        }
    }
}

enum VLANKind: ResourceKind {
    static let path = "/vlans"
    static let singular = "vlan"
    static let header = ["ID", "FABRIC", "VID", "NAME", "MTU", "DHCP", "PRIMARY RACK", "SECONDARY RACK"]
    static func row(_ vlan: JSONValue, names: [String: String]) -> [String] {
        func named(_ prefix: String, _ key: String) -> String {
            let id = vlan.cell(key)
            return names[prefix + id] ?? id
        }
        return [vlan.cell("id"), named("fabric:", "fabric_id"), vlan.cell("vid"), vlan.cell("name"), vlan.cell("mtu"),
                vlan.cell("dhcp_on"), named("rack:", "primary_rack_id"), named("rack:", "secondary_rack_id")]
    }
    /// Fabrics and racks by id, so a VLAN reads "fabric-0 … rack-a".
    static func names(_ client: RegionClient) async throws -> [String: String] {
        var names: [String: String] = [:]
        for fabric in try await client.get(FabricKind.path).value.array { names["fabric:" + fabric.cell("id")] = fabric.cell("name") }
        for rack in try await client.get(RackKind.path).value.array { names["rack:" + rack.cell("id")] = rack.cell("name") }
        return names
    }
}

struct VLANsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vlans", abstract: "List, show, create and delete VLANs (and say which racks serve DHCP on them).",
        subcommands: [ListResources<VLANKind>.self, ShowResource<VLANKind>.self, Create.self, DeleteResource<VLANKind>.self],
        defaultSubcommand: ListResources<VLANKind>.self)

    struct Create: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a VLAN on a fabric.")
        @Option(help: "The fabric: its id or name.") var fabric: String
        @Option(help: "The VLAN id, 0-4094 (0 for untagged).") var vid: Int
        @Option(help: "A name.") var name: String?
        @Option(help: "MTU (default 1500).") var mtu: Int?
        @Flag(help: "Racks serve DHCP on this VLAN (needs --primary-rack).") var dhcpOn = false
        @Option(help: "The rack that serves it: its id or name.") var primaryRack: String?
        @Option(help: "A second rack for high availability: its id or name.") var secondaryRack: String?
        @OptionGroup var output: OutputOptions

        func run(_ client: RegionClient) async throws {
            var body: [String: Any] = ["fabric_id": try await Self.id(fabric, FabricKind.path, "fabric", client), "vid": vid, "dhcp_on": dhcpOn]
            put(name, "name", into: &body)
            put(mtu, "mtu", into: &body)
            if let primaryRack { body["primary_rack_id"] = try await Self.id(primaryRack, RackKind.path, "rack", client) }
            if let secondaryRack { body["secondary_rack_id"] = try await Self.id(secondaryRack, RackKind.path, "rack", client) }
            let reply = try await client.request("POST", VLANKind.path, body: body)
            output.emit(reply) { describeObject(reply.value) }
        }

        /// An object named by id or by its `name`.
        static func id(_ reference: String, _ path: String, _ what: String, _ client: RegionClient) async throws -> Int64 {
            if let id = Int64(reference), id > 0 { return id }
            guard let found = try await client.get(path).value.array.first(where: { $0["name"]?.string == reference }),
                  let id = Int64(found.cell("id")) else {
                throw ClientError("no \(what) named \(reference)")
            }
            return id
        }
    }
}
