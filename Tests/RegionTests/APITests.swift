import Foundation
import Hummingbird
import Testing
@testable import Region

/// The REST API end to end: a real socket, a real PostgreSQL.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct APITests {
    @Test func tokensAreRequiredAndRolesEnforced() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let anonymous = try await api.get("/fabrics", token: .none)
            #expect(anonymous.status == 401)
            #expect(anonymous.error?.contains("bearer token") == true)
            #expect(try await api.get("/fabrics", token: .raw("Bearer rp_not-a-token")).status == 401)
            #expect(try await api.get("/fabrics", token: .raw("Basic YWRtaW46YWRtaW4=")).status == 401)

            #expect(try await api.get("/fabrics", token: .readOnly).status == 200)
            let refused = try await api.post("/fabrics", #"{"name": "fabric-0"}"#, token: .readOnly)
            #expect(refused.status == 403)
            #expect(refused.error?.contains("read-only") == true)
            #expect(try await api.get("/fabrics").array?.isEmpty == true)
            // Read-only tokens do not see who holds which token.
            #expect(try await api.get("/tokens", token: .readOnly).status == 403)

            // The rack secret opens the rack endpoints and nothing else; it is no bearer token.
            #expect(try await api.get("/machines", token: .rack).status == 403)
            #expect(try await api.get("/machines", token: .raw("Bearer \(harness.rackSecret)")).status == 401)
        }
    }

    @Test func adminMakesUsersAndTokensThatWork() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            #expect(try await api.post("/users", #"{"username": "ops", "role": "read-only"}"#).status == 201)
            let created = try await api.post("/tokens", #"{"username": "ops", "description": "dashboard"}"#)
            #expect(created.status == 201)
            let token = try #require(created.string("token"))
            #expect(created.string("role") == "read-only")
            #expect(try await api.get("/machines", token: .raw("Bearer \(token)")).status == 200)
            #expect(try await api.post("/fabrics", #"{"name": "x"}"#, token: .raw("Bearer \(token)")).status == 403)
            // Only the digest is stored.
            let stored = try await harness.store.read { try $0.query("SELECT count(*) FROM api_tokens WHERE token_sha256 = $1", [token]).scalar }
            #expect(stored == "0")
            #expect(try await api.post("/tokens", #"{"username": "nobody"}"#).status == 422)
            // Another token may be revoked; the one in hand may not (the last admin would be locked out).
            let tokenID = try #require(created.int("id"))
            #expect(try await api.delete("/tokens/\(tokenID)").status == 204)
            #expect(try await api.get("/machines", token: .raw("Bearer \(token)")).status == 401)
            let own = try #require(try await api.get("/tokens").array?.first { $0["username"] as? String == "admin" }?["id"] as? Int)
            #expect(try await api.delete("/tokens/\(own)").status == 409)
            #expect(try await api.post("/users", #"{"username": "ops", "role": "admin"}"#).status == 409)
            #expect(try await api.post("/users", #"{"username": "eve", "role": "root"}"#).status == 422)
        }
    }

    @Test func crudRoundTripAndEvents() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let network = try await api.makeNetwork()
            let subnet = try await api.get("/subnets/\(network.subnet)")
            #expect(subnet.status == 200)
            #expect(subnet.string("cidr") == "198.18.0.0/24")
            #expect(subnet.string("gateway") == "198.18.0.1")
            #expect(subnet.object?["dns_servers"] as? [String] == ["198.18.0.1"])
            #expect(subnet.int("lease_seconds") == 600)

            let updated = try await api.put("/subnets/\(network.subnet)", #"{"vlan_id": \#(network.vlan), "cidr": "198.18.0.0/24", "lease_seconds": 3600}"#)
            #expect(updated.status == 200)
            #expect(updated.int("lease_seconds") == 3600)
            #expect(updated.object?["gateway"] is NSNull)

            let domain = try await api.create("/domains", #"{"name": "lab.example"}"#)
            let record = try await api.create("/records", #"{"domain_id": \#(domain), "name": "ns1", "type": "A", "value": "198.18.0.2"}"#)
            #expect(try await api.post("/records", #"{"domain_id": \#(domain), "name": "ns2", "type": "A", "value": "2001:db8::1"}"#).status == 422)
            #expect(try await api.delete("/records/\(record)").status == 204)
            #expect(try await api.get("/records/\(record)").status == 404)

            let sha = String(repeating: "ab", count: 32)
            let boot = try await api.post("/boot-resources", """
                {"name": "ubuntu/noble", "architecture": "amd64", "kernel_file": "ubuntu/noble/vmlinuz", "kernel_size": 14000000,
                 "kernel_sha256": "\(sha)", "initrd_file": "ubuntu/noble/initrd", "initrd_size": 60000000, "initrd_sha256": "\(sha)"}
                """)
            #expect(boot.status == 201)
            #expect(boot.object?["rootfs_file"] is NSNull)
            let badSHA = try await api.post("/boot-resources", """
                {"name": "ubuntu/jammy", "architecture": "amd64", "kernel_file": "k", "kernel_size": 1, "kernel_sha256": "XYZ",
                 "initrd_file": "i", "initrd_size": 1, "initrd_sha256": "\(sha)"}
                """)
            #expect(badSHA.status == 422)
            #expect(badSHA.error?.contains("sha256_hex_syntax") == true)

            // Every successful write left an event naming the actor; refused writes left none.
            // (The oldest is the region's own: the first admin token.)
            let events = try #require(try await api.get("/events?limit=1000").array)
            #expect(events.count == 1 + 9)
            #expect(events.dropLast().allSatisfy { $0["actor"] as? String == "admin" })
            #expect(events.last?["actor"] as? String == "region")
            #expect(events.first?["object_type"] as? String == "boot_resource")
            #expect(events.contains { $0["action"] as? String == "delete" && $0["object_type"] as? String == "dns_record" })
            #expect(try await api.get("/events?limit=abc").status == 400)
        }
    }

    @Test func badInputIsRefusedWithAMessageAndNothingStored() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let network = try await api.makeNetwork()
            let before = try await api.get("/subnets").array?.count

            let wrongType = try await api.post("/vlans", #"{"fabric_id": 1, "vid": "ten"}"#)
            #expect(wrongType.status == 400)
            #expect(wrongType.error == "wrong type for vid: expected an integer")
            let missing = try await api.post("/subnets", #"{"vlan_id": \#(network.vlan)}"#)
            #expect(missing.status == 400)
            #expect(missing.error == "missing field cidr")
            #expect(try await api.post("/subnets", "{not json").status == 400)
            #expect(try await api.post("/subnets", "").status == 400)
            #expect(try await api.post("/subnets", "[1, 2]").status == 400)

            for cidr in ["198.18.1.0/33", "bogus", "198.18.1.1/24", "300.1.1.0/24", ""] {
                let reply = try await api.post("/subnets", #"{"vlan_id": \#(network.vlan), "cidr": "\#(cidr)"}"#)
                #expect(reply.status == 422, "cidr \(cidr)")
                #expect(reply.error?.isEmpty == false)
            }
            let gatewayWithPrefix = try await api.post("/subnets", #"{"vlan_id": \#(network.vlan), "cidr": "198.18.2.0/24", "gateway": "198.18.2.1/24"}"#)
            #expect(gatewayWithPrefix.status == 422)
            #expect(gatewayWithPrefix.error?.contains("host_address_is_host") == true)
            let unknownVLAN = try await api.post("/subnets", #"{"vlan_id": 999999, "cidr": "198.18.3.0/24"}"#)
            #expect(unknownVLAN.status == 422)
            #expect(unknownVLAN.error?.contains("subnets_vlan_fkey") == true)
            #expect(try await api.post("/vlans", #"{"fabric_id": 1, "vid": 5000}"#).status == 422)
            #expect(try await api.post("/vlans", #"{"fabric_id": 1, "vid": 99999999999999999999999}"#).status == 400)
            #expect(try await api.get("/subnets").array?.count == before)
        }
    }

    @Test func overlappingRangesAreAConflict() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let network = try await api.makeNetwork()
            _ = try await api.create("/ranges", #"{"subnet_id": \#(network.subnet), "type": "dynamic", "start_ip": "198.18.0.100", "end_ip": "198.18.0.200"}"#)
            let overlap = try await api.post("/ranges", #"{"subnet_id": \#(network.subnet), "type": "reserved", "start_ip": "198.18.0.150", "end_ip": "198.18.0.250"}"#)
            #expect(overlap.status == 409)
            #expect(overlap.error?.contains("ip_ranges_no_overlap") == true)
            let outside = try await api.post("/ranges", #"{"subnet_id": \#(network.subnet), "type": "reserved", "start_ip": "198.18.0.250", "end_ip": "198.18.1.4"}"#)
            #expect(outside.status == 422)
            #expect(outside.error?.contains("ip_ranges_inside_subnet") == true)
            let badType = try await api.post("/ranges", #"{"subnet_id": \#(network.subnet), "type": "pool", "start_ip": "198.18.0.1", "end_ip": "198.18.0.2"}"#)
            #expect(badType.status == 422)
            #expect(try await api.get("/ranges").array?.count == 1)
            // Still referenced: deleting the subnet's VLAN is a conflict.
            let inUse = try await api.delete("/vlans/\(network.vlan)")
            #expect(inUse.status == 409)
            #expect(inUse.error?.contains("subnets_vlan_fkey") == true)
        }
    }

    @Test func tenMegabyteBodyIs413() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let huge = ByteBuffer(repeating: UInt8(ascii: " "), count: 10 * 1024 * 1024)
            let reply = try await api.send(.post, "/api/v1/fabrics", body: nil, bodyBytes: huge)
            #expect(reply.status == 413)
            #expect(reply.error?.contains("larger than") == true)
        }
        let stored = try await harness.store.read { try $0.query("SELECT count(*) FROM fabrics").scalar }
        #expect(stored == "0")
    }

    @Test func unknownIdsAndRoutesAre404() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            for path in ["/machines/999999", "/machines/abc", "/machines/-1", "/subnets/0", "/racks/18446744073709551616"] {
                let reply = try await api.get(path)
                #expect(reply.status == 404, "\(path)")
                #expect(reply.error?.hasPrefix("no ") == true)
            }
            #expect(try await api.put("/fabrics/424242", #"{"name": "x"}"#).status == 404)
            #expect(try await api.delete("/fabrics/424242").status == 404)
            #expect(try await api.post("/machines/424242/deploy").status == 404)
            #expect(try await api.post("/machines/424242/interfaces", #"{"mac": "52:54:00:00:00:09"}"#).status == 404)
            #expect(try await api.get("/no-such-thing").status == 404)
            // Nothing was written, so nothing was logged beyond the first admin token.
            #expect(try await api.get("/events").array?.count == 1)
        }
    }

    @Test func oneMachinePerMACAndAddressesInsideTheirSubnet() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let network = try await api.makeNetwork()
            let first = try await api.post("/machines", """
                {"hostname": "node-1", "power_type": "ipmi", "power_parameters": {"address": "198.18.9.1", "user": "admin"},
                 "interfaces": [{"mac": "52:54:00:00:00:01", "subnet_id": \(network.subnet), "ip": "198.18.0.10"}]}
                """)
            #expect(first.status == 201)
            let interfaces = first.object?["interfaces"] as? [[String: Any]]
            #expect(interfaces?.first?["mode"] as? String == "static")
            #expect((first.object?["power_parameters"] as? [String: Any])?["user"] as? String == "admin")

            let sameMAC = try await api.post("/machines", #"{"hostname": "node-2", "interfaces": [{"mac": "52:54:00:00:00:01"}]}"#)
            #expect(sameMAC.status == 409)
            #expect(sameMAC.error?.contains("interfaces_mac_key") == true)
            // The machine and its interface are one transaction: node-2 was not stored either.
            #expect(try await api.get("/machines").array?.count == 1)

            let outside = try await api.post("/machines", """
                {"hostname": "node-3", "interfaces": [{"mac": "52:54:00:00:00:03", "subnet_id": \(network.subnet), "ip": "198.18.1.10"}]}
                """)
            #expect(outside.status == 422)
            #expect(outside.error?.contains("interfaces_ip_inside_subnet") == true)
            let taken = try await api.post("/machines", """
                {"hostname": "node-4", "interfaces": [{"mac": "52:54:00:00:00:04", "subnet_id": \(network.subnet), "ip": "198.18.0.10"}]}
                """)
            #expect(taken.status == 409)
            #expect(try await api.post("/machines", #"{"hostname": "Not_A_Label"}"#).status == 422)
            #expect(try await api.post("/machines", #"{"hostname": "node-5", "power_parameters": [1]}"#).status == 400)
            #expect(try await api.post("/machines", #"{"hostname": "node-6", "interfaces": [{"mac": "not-a-mac"}]}"#).status == 422)

            let machine = try #require(first.int("id"))
            let added = try await api.post("/machines/\(machine)/interfaces", #"{"name": "eth1", "mac": "52:54:00:00:00:11"}"#)
            #expect(added.status == 201)
            #expect(added.string("mode") == "dhcp")
            let interface = try #require(added.int("id"))
            #expect(try await api.put("/machines/\(machine)/interfaces/\(interface)", #"{"name": "eth1", "mac": "52:54:00:00:00:12", "subnet_id": \#(network.subnet), "ip": "198.18.0.11"}"#).status == 200)
            #expect(try await api.get("/machines/\(machine)/interfaces").array?.count == 2)
            #expect(try await api.delete("/machines/\(machine)/interfaces/\(interface)").status == 204)
            #expect(try await api.delete("/machines/\(machine)").status == 204)
            #expect(try await api.get("/machines").array?.isEmpty == true)
        }
    }

    @Test func machineLifecycleAndBootPurpose() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let machine = try await api.create("/machines", #"{"hostname": "node-1"}"#)
            func act(_ action: String) async throws -> APIClient.Reply { try await api.post("/machines/\(machine)/\(action)") }

            let early = try await act("deploy")
            #expect(early.status == 409)
            #expect(early.error == "cannot deploy a machine that is new (allowed from: ready)")

            let steps: [(action: String, status: String, purpose: String)] = [
                ("commission", "commissioning", "commission"),
                ("complete", "ready", "local"),
                ("deploy", "deploying", "deploy"),
                ("complete", "deployed", "local"),
                ("release", "releasing", "local"),
                ("complete", "ready", "local"),
                ("mark-broken", "broken", "local"),
            ]
            for step in steps {
                let reply = try await act(step.action)
                #expect(reply.status == 200, "\(step.action)")
                #expect(reply.string("status") == step.status, "\(step.action)")
                #expect(reply.string("boot_purpose") == step.purpose, "\(step.action)")
            }
            #expect(try await act("deploy").status == 409)
            #expect(try await act("mark-broken").status == 409)
            #expect(try await act("mark-fixed").string("status") == "ready")
            #expect(try await act("explode").status == 404)
            // Status is the actions' business: an update cannot set it.
            let put = try await api.put("/machines/\(machine)", #"{"hostname": "node-1", "status": "deployed"}"#)
            #expect(put.string("status") == "ready")
            let events = try await api.get("/events?limit=1000").array ?? []
            // Commission, deploy and release also say what became of their power request (no rack
            // serves it here).
            let machineEvents = events.filter { $0["object_type"] as? String == "machine" }
            #expect(machineEvents.count == 1 + steps.count + 2 + 3)
            #expect(machineEvents.filter { $0["action"] as? String == "power-request" && ($0["summary"] as? String ?? "").contains("by hand") }.count == 3)
        }
    }

    @Test func healthAndMetricsNeedNoToken() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            _ = try await api.get("/fabrics", token: .none)
            let health = try await api.send(.get, "/healthz", token: .none)
            #expect(health.status == 200)
            #expect(health.text == "ok\n")
            let metrics = try await api.send(.get, "/metrics", token: .none)
            #expect(metrics.status == 200)
            #expect(metrics.text.contains(#"rackplane_region_http_requests_total{method="GET",status="401"} 1"#))
            #expect(metrics.text.contains("rackplane_region_db_connections"))
        }
    }
}
