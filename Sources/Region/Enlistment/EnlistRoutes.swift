import Hummingbird

/// `POST /api/v1/enlist`: a machine nobody has entered yet announces itself from the
/// enlistment environment the rack boots it into (docs/enlistment.md). It has no credentials
/// (like MAAS's enlistment), so the endpoint only ever creates a machine in state New, never
/// changes one: a MAC already known answers 200 with that machine, untouched.
struct EnlistRoutes: Sendable {
    let store: RegionStore

    struct EnlistInput: Decodable, Sendable {
        var mac: String
        var architecture: String?
        var hostname: String?
        /// The BMC, if the environment found one: a power type and its parameters (sealed like any).
        var powerType: String?
        var powerParameters: JSONObject?
    }

    func register(on group: RouterGroup<RegionRequestContext>) {
        group.post("enlist") { request, context in
            let input = try await RequestDecoding.decode(EnlistInput.self, from: request, context: context)
            return try await enlist(input, actor: context.requireIdentity())
        }
    }

    func enlist(_ input: EnlistInput, actor: Identity) async throws -> Response {
        // PostgreSQL reads every MAC spelling (08002b:010203, 0800.2b01.0203); its canonical text
        // (08:00:2b:01:02:03) is what the generated hostname is made from.
        let mac = try await store.read { try $0.query("SELECT $1::macaddr::text", [input.mac]).scalar } ?? input.mac.lowercased()
        // The machine a MAC already names, and the subnet its latest lease is in.
        let (existing, subnet, taken) = try await store.read { connection -> (String?, String?, Bool) in
            let existing = try connection.query(
                "SELECT i.machine_id FROM interfaces i WHERE i.mac = $1::macaddr", [mac]).scalar
            let subnet = try connection.query("""
                SELECT s.id FROM leases l JOIN subnets s ON s.cidr >>= l.ip
                WHERE l.mac = $1::macaddr ORDER BY l.reported_at DESC LIMIT 1
                """, [mac]).scalar
            let taken = try input.hostname.map { try connection.query("SELECT 1 FROM machines WHERE hostname = $1", [$0]).rows.count == 1 } ?? false
            return (existing, subnet, taken)
        }
        if let existing {
            guard let json = try await store.objectJSON(Resources.machines, id: existing) else { throw APIError.notFound("machine", existing) }
            return JSONBody.response(status: .ok, json: json)
        }
        // A name the machine offers, if it is a free DNS label; otherwise one from its MAC.
        let generated = "node-" + mac.filter { $0 != ":" }
        var hostname = generated
        if let offered = input.hostname?.lowercased(), !taken, Self.isLabel(offered) { hostname = offered }
        let machine = Resources.MachineInput(
            hostname: hostname, domainId: nil, architecture: input.architecture, powerType: input.powerType,
            powerParameters: input.powerParameters,
            interfaces: [Resources.InterfaceInput(name: "eth0", mac: mac, subnetId: subnet.flatMap(Int64.init), mode: "dhcp", ip: nil)])
        let created = try await store.createMachine(machine, actor: actor, action: "enlist")
        return JSONBody.response(status: .created, json: created.json)
    }

    /// A DNS label: what `machines.hostname` accepts.
    static func isLabel(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else { return false }
        return bytes.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-") }
    }
}
