import Testing
@testable import Region

/// Integrity enforced by the database itself, whatever the client: each refusal comes back with
/// its SQLSTATE and constraint, and maps to the API's status.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct ConstraintTests {
    let connection: PostgresConnection
    let subnet: String
    let machine: String

    init() throws {
        connection = try PostgresConnection(try TestPostgres.migratedDatabase())
        let fabric = try connection.query("INSERT INTO fabrics (name) VALUES ('fabric-0') RETURNING id").scalar ?? ""
        let vlan = try connection.query("INSERT INTO vlans (fabric_id, vid) VALUES ($1::bigint, 0) RETURNING id", [fabric]).scalar ?? ""
        subnet = try connection.query("INSERT INTO subnets (vlan_id, cidr) VALUES ($1::bigint, '198.18.0.0/24') RETURNING id", [vlan]).scalar ?? ""
        machine = try connection.query("""
            INSERT INTO machines (hostname, domain_id) VALUES ('node-1', (SELECT id FROM domains WHERE is_default)) RETURNING id
            """).scalar ?? ""
    }

    /// Runs `sql` expecting a refusal; returns it with the API status it maps to.
    func refusal(_ sql: String, _ parameters: [String?], operation: StoreErrorMapping.Operation = .write) -> (PostgresError, Int)? {
        do {
            try connection.query(sql, parameters)
            return nil
        } catch {
            let status = StoreErrorMapping.apiError(for: error, operation: operation)?.status.code ?? 500
            return (error, status)
        }
    }

    func addInterface(mac: String, ip: String?, machine: String? = nil) throws {
        try connection.query(
            "INSERT INTO interfaces (machine_id, name, mac, subnet_id, mode, ip) VALUES ($1::bigint, $2, $3, $4::bigint, $5, $6)",
            [machine ?? self.machine, "eth\(mac.suffix(1))", mac, subnet, ip == nil ? "dhcp" : "static", ip])
    }

    @Test func oneMachinePerMAC() throws {
        try addInterface(mac: "52:54:00:00:00:01", ip: nil)
        let other = try connection.query("""
            INSERT INTO machines (hostname, domain_id) VALUES ('node-2', (SELECT id FROM domains WHERE is_default)) RETURNING id
            """).scalar
        let result = refusal(
            "INSERT INTO interfaces (machine_id, mac) VALUES ($1::bigint, $2)", [other, "52:54:00:00:00:01"])
        #expect(result?.0.sqlState == SQLState.uniqueViolation)
        #expect(result?.0.constraint == "interfaces_mac_key")
        #expect(result?.1 == 409)
    }

    @Test func staticAddressMustBeInsideItsSubnetAndUnique() throws {
        try addInterface(mac: "52:54:00:00:00:01", ip: "198.18.0.10")
        let outside = refusal(
            "INSERT INTO interfaces (machine_id, name, mac, subnet_id, mode, ip) VALUES ($1::bigint, 'eth1', '52:54:00:00:00:02', $2::bigint, 'static', '198.18.1.10')",
            [machine, subnet])
        #expect(outside?.0.constraint == "interfaces_ip_inside_subnet")
        #expect(outside?.1 == 422)
        let taken = refusal(
            "INSERT INTO interfaces (machine_id, name, mac, subnet_id, mode, ip) VALUES ($1::bigint, 'eth2', '52:54:00:00:00:03', $2::bigint, 'static', '198.18.0.10')",
            [machine, subnet])
        #expect(taken?.0.constraint == "interfaces_ip_key")
        #expect(taken?.1 == 409)
        let broadcast = refusal(
            "INSERT INTO interfaces (machine_id, name, mac, subnet_id, mode, ip) VALUES ($1::bigint, 'eth3', '52:54:00:00:00:04', $2::bigint, 'static', '198.18.0.255')",
            [machine, subnet])
        #expect(broadcast?.0.constraint == "interfaces_ip_not_network_or_broadcast")
    }

    /// The subnet's cidr is copied onto its interfaces through a cascading foreign key, so even
    /// shrinking the subnet under an address is refused.
    @Test func shrinkingASubnetUnderAnAddressIsRefused() throws {
        try addInterface(mac: "52:54:00:00:00:01", ip: "198.18.0.200")
        let result = refusal("UPDATE subnets SET cidr = '198.18.0.0/25' WHERE id = $1::bigint", [subnet])
        #expect(result?.0.constraint == "interfaces_ip_inside_subnet")
        #expect(try connection.query("SELECT cidr FROM subnets WHERE id = $1::bigint", [subnet]).scalar == "198.18.0.0/24")
    }

    @Test func rangesStayInsideTheirSubnetAndApart() throws {
        let insert = "INSERT INTO ip_ranges (subnet_id, type, start_ip, end_ip) VALUES ($1::bigint, $2, $3, $4)"
        try connection.query(insert, [subnet, "dynamic", "198.18.0.100", "198.18.0.200"])
        let overlapping = refusal(insert, [subnet, "reserved", "198.18.0.200", "198.18.0.210"])
        #expect(overlapping?.0.sqlState == SQLState.exclusionViolation)
        #expect(overlapping?.0.constraint == "ip_ranges_no_overlap")
        #expect(overlapping?.1 == 409)
        let outside = refusal(insert, [subnet, "dynamic", "198.18.0.250", "198.18.1.5"])
        #expect(outside?.0.constraint == "ip_ranges_inside_subnet")
        #expect(outside?.1 == 422)
        let backwards = refusal(insert, [subnet, "dynamic", "198.18.0.50", "198.18.0.40"])
        #expect(backwards?.0.constraint == "ip_ranges_ordered")
        let noSubnet = refusal(insert, ["999999", "dynamic", "198.18.0.1", "198.18.0.2"])
        #expect(noSubnet?.0.sqlState == SQLState.foreignKeyViolation)
        #expect(noSubnet?.1 == 422)
        // Adjacent is fine: [100, 200] and [201, 210] do not overlap.
        try connection.query(insert, [subnet, "reserved", "198.18.0.201", "198.18.0.210"])
    }

    /// The rack leases from dynamic ranges without knowing machines' static addresses.
    @Test func staticAddressesStayOutOfDynamicRanges() throws {
        let insertRange = "INSERT INTO ip_ranges (subnet_id, type, start_ip, end_ip) VALUES ($1::bigint, $2, $3, $4)"
        try connection.query(insertRange, [subnet, "dynamic", "198.18.0.100", "198.18.0.200"])
        try connection.query(insertRange, [subnet, "reserved", "198.18.0.1", "198.18.0.20"])
        let inPool = refusal(
            "INSERT INTO interfaces (machine_id, mac, subnet_id, mode, ip) VALUES ($1::bigint, '52:54:00:00:00:01', $2::bigint, 'static', '198.18.0.150')",
            [machine, subnet])
        #expect(inPool?.0.constraint == "interfaces_ip_outside_dynamic_ranges")
        #expect(inPool?.1 == 409)
        // Reserved ranges are where static addresses belong.
        try addInterface(mac: "52:54:00:00:00:02", ip: "198.18.0.10")
        try addInterface(mac: "52:54:00:00:00:03", ip: "198.18.0.210")
        let overStatic = refusal(insertRange, [subnet, "dynamic", "198.18.0.205", "198.18.0.220"])
        #expect(overStatic?.0.constraint == "ip_ranges_dynamic_excludes_static")
        #expect(overStatic?.1 == 409)
        // Moving an address into a pool is refused too.
        let moved = refusal("UPDATE interfaces SET ip = '198.18.0.120' WHERE mac = '52:54:00:00:00:03'", [])
        #expect(moved?.0.constraint == "interfaces_ip_outside_dynamic_ranges")
    }

    @Test func subnetsDoNotOverlapAndGatewaysSitInside() throws {
        let vlan = try connection.query("SELECT vlan_id FROM subnets WHERE id = $1::bigint", [subnet]).scalar
        let overlapping = refusal("INSERT INTO subnets (vlan_id, cidr) VALUES ($1::bigint, '198.18.0.128/25')", [vlan])
        #expect(overlapping?.0.constraint == "subnets_no_overlap")
        #expect(overlapping?.1 == 409)
        let gateway = refusal("INSERT INTO subnets (vlan_id, cidr, gateway) VALUES ($1::bigint, '198.18.5.0/24', '198.18.6.1')", [vlan])
        #expect(gateway?.0.constraint == "subnets_gateway_inside")
        let hostBits = refusal("INSERT INTO subnets (vlan_id, cidr) VALUES ($1::bigint, '198.18.7.1/24')", [vlan])
        #expect(hostBits?.0.sqlState == SQLState.invalidTextRepresentation)
        #expect(hostBits?.1 == 422)
    }

    @Test func deletingWhatIsStillUsedIsAConflict() throws {
        try addInterface(mac: "52:54:00:00:00:01", ip: "198.18.0.10")
        let result = refusal("DELETE FROM subnets WHERE id = $1::bigint", [subnet], operation: .delete)
        #expect(result?.0.sqlState == SQLState.foreignKeyViolation)
        #expect(result?.1 == 409)
    }

    @Test func everyModelWriteNotifiesTheCompiler() throws {
        let listener = try PostgresConnection(try TestPostgres.cluster().connectionString(database: currentDatabase()))
        try listener.query("LISTEN \(CompilerService.modelChannel)")
        try connection.query("INSERT INTO fabrics (name) VALUES ('fabric-9')")
        // Notifications travel at commit; a round trip on the listener collects them.
        try listener.query("SELECT 1")
        let received = try listener.drainNotifications()
        #expect(received.map(\.payload) == ["fabrics"])
    }

    func currentDatabase() throws -> String {
        try connection.query("SELECT current_database()").scalar ?? ""
    }
}
