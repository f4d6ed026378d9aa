import ArgumentParser
import Region

/// One kind of object of the REST API, as the command line lists and shows it.
protocol ResourceKind {
    /// Under /api/v1: "/subnets".
    static var path: String { get }
    /// For messages: "subnet".
    static var singular: String { get }
    static var header: [String] { get }
    /// One table row; `names` are whatever `names(client)` looked up.
    static func row(_ object: JSONValue, names: [String: String]) -> [String]
    /// Names the rows refer to by id (a record's domain), fetched once per listing.
    static func names(_ client: RegionClient) async throws -> [String: String]
}

extension ResourceKind {
    static func names(_ client: RegionClient) async throws -> [String: String] { [:] }
}

/// `list`, `show ID` and `delete ID`, the same for every kind.
struct ListResources<Kind: ResourceKind>: ClientCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(commandName: "list", abstract: "List every \(Kind.singular).") }
    @OptionGroup var output: OutputOptions

    func run(_ client: RegionClient) async throws {
        let reply = try await client.get(Kind.path)
        let names = output.json ? [:] : try await Kind.names(client)
        output.emit(reply) { TableOutput.render(header: Kind.header, rows: reply.value.array.map { Kind.row($0, names: names) }) }
    }
}

struct ShowResource<Kind: ResourceKind>: ClientCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(commandName: "show", abstract: "Show one \(Kind.singular).") }
    @Argument(help: "Its id.") var id: String
    @OptionGroup var output: OutputOptions

    func run(_ client: RegionClient) async throws {
        let reply = try await client.get("\(Kind.path)/\(try objectID(id, Kind.singular))")
        output.emit(reply) { describeObject(reply.value) }
    }
}

struct DeleteResource<Kind: ResourceKind>: ClientCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(commandName: "delete", abstract: "Delete one \(Kind.singular).") }
    @Argument(help: "Its id.") var id: String

    func run(_ client: RegionClient) async throws {
        let id = try objectID(id, Kind.singular)
        try await client.request("DELETE", "\(Kind.path)/\(id)")
        print("deleted \(Kind.singular) \(id)")
    }
}

/// Every field, `id` first, then by name.
func describeObject(_ object: JSONValue) -> String {
    guard case .object(let fields) = object else { return object.cell }
    let keys = fields.keys.sorted { ($0 == "id" ? "" : $0) < ($1 == "id" ? "" : $1) }
    return TableOutput.fields(keys.map { ($0, fields[$0]?.cell ?? "-") })
}

/// Adds the options given to a create body (leaving out the ones not given, so the server's
/// defaults apply).
func put(_ value: Any?, _ key: String, into body: inout [String: Any]) {
    if let value { body[key] = value }
}

// MARK: Subnets

enum SubnetKind: ResourceKind {
    static let path = "/subnets"
    static let singular = "subnet"
    static let header = ["ID", "CIDR", "NAME", "VLAN", "GATEWAY", "DNS", "LEASE"]
    static func row(_ subnet: JSONValue, names: [String: String]) -> [String] {
        [subnet.cell("id"), subnet.cell("cidr"), subnet.cell("name"), subnet.cell("vlan_id"), subnet.cell("gateway"),
         subnet.cell("dns_servers"), subnet.cell("lease_seconds") + "s"]
    }
}

struct SubnetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subnets", abstract: "List, show, create and delete subnets.",
        subcommands: [ListResources<SubnetKind>.self, ShowResource<SubnetKind>.self, Create.self, DeleteResource<SubnetKind>.self],
        defaultSubcommand: ListResources<SubnetKind>.self)

    struct Create: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a subnet on a VLAN.")
        @Argument(help: "The network, e.g. 198.18.0.0/24.") var cidr: String
        @Option(help: "The VLAN's id (`rackplane vlans` lists them).") var vlanId: String
        @Option(help: "A name.") var name: String?
        @Option(help: "The gateway (inside the subnet).") var gateway: String?
        @Option(help: "A DNS server for DHCP clients (repeatable).") var dnsServer: [String] = []
        @Option(help: "The domain's id.") var domainId: String?
        @Option(help: "The next-server for network boots.") var nextServer: String?
        @Option(help: "DHCP lease time in seconds (default 600).") var leaseSeconds: Int?
        @OptionGroup var output: OutputOptions

        func run(_ client: RegionClient) async throws {
            var body: [String: Any] = ["cidr": cidr, "vlan_id": try objectID(vlanId, "--vlan-id")]
            put(name, "name", into: &body)
            put(gateway, "gateway", into: &body)
            if !dnsServer.isEmpty { body["dns_servers"] = dnsServer }
            put(try domainId.map { try objectID($0, "--domain-id") }, "domain_id", into: &body)
            put(nextServer, "next_server", into: &body)
            put(leaseSeconds, "lease_seconds", into: &body)
            let reply = try await client.request("POST", SubnetKind.path, body: body)
            output.emit(reply) { describeObject(reply.value) }
        }
    }
}

// MARK: Ranges

enum RangeKind: ResourceKind {
    static let path = "/ranges"
    static let singular = "range"
    static let header = ["ID", "SUBNET", "TYPE", "START", "END", "COMMENT"]
    static func row(_ range: JSONValue, names: [String: String]) -> [String] {
        let subnet = range.cell("subnet_id")
        return [range.cell("id"), names[subnet] ?? subnet, range.cell("type"), range.cell("start_ip"), range.cell("end_ip"), range.cell("comment")]
    }
    /// Subnets by id: a range is shown with its subnet's CIDR.
    static func names(_ client: RegionClient) async throws -> [String: String] {
        Dictionary(try await client.get(SubnetKind.path).value.array.map { ($0.cell("id"), $0.cell("cidr")) }, uniquingKeysWith: { a, _ in a })
    }
}

struct RangesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ranges", abstract: "List, show, create and delete IP ranges (dynamic or reserved).",
        subcommands: [ListResources<RangeKind>.self, ShowResource<RangeKind>.self, Create.self, DeleteResource<RangeKind>.self],
        defaultSubcommand: ListResources<RangeKind>.self)

    struct Create: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a range inside a subnet.")
        @Option(help: "The subnet: an id or a CIDR.") var subnet: String
        @Option(help: "dynamic (the rack leases from it) or reserved (kept for static use).") var type: String
        @Option(help: "First address.") var start: String
        @Option(help: "Last address.") var end: String
        @Option(help: "A comment.") var comment: String?
        @OptionGroup var output: OutputOptions

        func run(_ client: RegionClient) async throws {
            var body: [String: Any] = ["subnet_id": try await subnetID(subnet, client: client), "type": type, "start_ip": start, "end_ip": end]
            put(comment, "comment", into: &body)
            let reply = try await client.request("POST", RangeKind.path, body: body)
            output.emit(reply) { describeObject(reply.value) }
        }
    }
}

// MARK: DNS records

enum RecordKind: ResourceKind {
    static let path = "/records"
    static let singular = "record"
    static let header = ["ID", "NAME", "TYPE", "VALUE", "TTL"]
    static func row(_ record: JSONValue, names: [String: String]) -> [String] {
        let domain = names[record.cell("domain_id")] ?? "domain " + record.cell("domain_id")
        let name = record.cell("name") == "@" ? domain : record.cell("name") + "." + domain
        return [record.cell("id"), name, record.cell("type"), record.cell("value"), record.cell("ttl")]
    }
    /// Domains by id: a record is shown with its full name.
    static func names(_ client: RegionClient) async throws -> [String: String] {
        Dictionary(try await client.get("/domains").value.array.map { ($0.cell("id"), $0.cell("name")) }, uniquingKeysWith: { a, _ in a })
    }
}

struct RecordsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "records", abstract: "List, show, create and delete DNS records.",
        subcommands: [ListResources<RecordKind>.self, ShowResource<RecordKind>.self, Create.self, DeleteResource<RecordKind>.self],
        defaultSubcommand: ListResources<RecordKind>.self)

    struct Create: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a DNS record in a domain.")
        @Argument(help: "The name, relative to the domain (@ for the domain itself).") var name: String
        @Argument(help: "A, AAAA, CNAME, MX, TXT, SRV, PTR or NS.") var type: String
        @Argument(help: "The value (an address, a name, text).") var value: String
        @Option(help: "The domain: its id or its name.") var domain: String
        @Option(help: "Time to live in seconds.") var ttl: Int?
        @OptionGroup var output: OutputOptions

        func run(_ client: RegionClient) async throws {
            let domainID: Int64
            if let id = Int64(domain), id > 0 {
                domainID = id
            } else {
                let names = try await RecordKind.names(client)
                guard let id = names.first(where: { $0.value == domain }).flatMap({ Int64($0.key) }) else { throw ClientError("no domain \(domain)") }
                domainID = id
            }
            var body: [String: Any] = ["domain_id": domainID, "name": name, "type": type, "value": value]
            put(ttl, "ttl", into: &body)
            let reply = try await client.request("POST", RecordKind.path, body: body)
            output.emit(reply) { describeObject(reply.value) }
        }
    }
}

// MARK: Racks

enum RackKind: ResourceKind {
    static let path = "/racks"
    static let singular = "rack"
    static let header = ["ID", "NAME", "GENERATION", "TABLES", "LAST CONTACT", "LEASES ACKED"]
    static func row(_ rack: JSONValue, names: [String: String]) -> [String] {
        let digest = rack["tables_sha256"]?.string.map { String($0.prefix(12)) } ?? "-"
        return [rack.cell("id"), rack.cell("name"), rack.cell("tables_generation"), digest, rack.time("last_contact_at"), rack.cell("leases_acked")]
    }
}

struct RacksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "racks", abstract: "List, show, create and delete rack controllers (racks usually enrol themselves).",
        subcommands: [ListResources<RackKind>.self, ShowResource<RackKind>.self, Create.self, DeleteResource<RackKind>.self],
        defaultSubcommand: ListResources<RackKind>.self)

    struct Create: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a rack controller ahead of its enrolment.")
        @Argument(help: "Its name (a DNS label; the rack enrols with --name).") var name: String
        @Option(help: "A description.") var description: String?
        @OptionGroup var output: OutputOptions

        func run(_ client: RegionClient) async throws {
            var body: [String: Any] = ["name": name]
            put(description, "description", into: &body)
            let reply = try await client.request("POST", RackKind.path, body: body)
            output.emit(reply) { describeObject(reply.value) }
        }
    }
}

// MARK: Events

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "The region's event log, newest first.",
        subcommands: [List.self], defaultSubcommand: List.self)

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List recent events.")
        @Option(help: "How many (1-1000).") var limit: Int = 50
        @OptionGroup var output: OutputOptions

        func run(_ client: RegionClient) async throws {
            let reply = try await client.get("/events", query: [("limit", String(limit))])
            output.emit(reply) {
                TableOutput.render(
                    header: ["ID", "AT", "ACTOR", "ACTION", "OBJECT", "SUMMARY"],
                    rows: reply.value.array.map { event in
                        let object = event.cell("object_type") + (event["object_id"]?.string.map { " " + $0 } ?? "")
                        return [event.cell("id"), event.time("at"), event.cell("actor"), event.cell("action"), object, event.cell("summary")]
                    })
            }
        }
    }
}
