import Foundation
import Power
import Testing
import Wire
@testable import Region

/// Power at the region: sealed parameters, the request queue a rack drains, results as events.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct PowerAPITests {
    static let secret = "hunter2-bmc-secret"

    /// A machine on the harness network (rack-1 serves it) with ipmi parameters.
    func machine(_ api: APIClient, subnet: Int, hostname: String = "node-1", mac: String = "52:54:00:00:00:01") async throws -> Int {
        try await api.create("/machines", #"""
            {"hostname": "\#(hostname)", "power_type": "ipmi",
             "power_parameters": {"address": "198.18.9.1", "username": "admin", "password": "\#(Self.secret)", "cipher_suite": 17},
             "interfaces": [{"mac": "\#(mac)", "subnet_id": \#(subnet)}]}
            """#)
    }

    @Test func parametersAreSealedAndShownRedacted() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (_, _, subnet) = try await api.makeNetwork()
            let id = try await machine(api, subnet: subnet)
            let shown = try await api.get("/machines/\(id)")
            #expect(!shown.text.contains(Self.secret))
            let parameters = shown.object?["power_parameters"] as? [String: Any]
            #expect(parameters?["password"] as? String == PowerRedaction.marker)
            #expect(parameters?["username"] as? String == "admin")
            #expect(!(try await api.get("/machines").text.contains(Self.secret)))
            #expect(!(try await api.get("/events").text.contains(Self.secret)))

            // In the database: redacted in the clear, the whole only under the vault's key.
            let row = try await harness.store.read { connection in
                try connection.query("SELECT power_parameters::text AS clear, encode(power_parameters_sealed, 'hex') AS sealed FROM machines WHERE id = $1::bigint",
                                     [String(id)]).rows.first
            }
            #expect(row?["clear"]?.contains(Self.secret) == false)
            let sealed = try #require(hexDecoded(row?["sealed"] ?? ""))
            #expect(!String(decoding: sealed, as: UTF8.self).contains(Self.secret))
            let opened = String(decoding: try harness.store.powerVault.open(sealed), as: UTF8.self)
            #expect(opened.contains(Self.secret))
            // Another key opens nothing, and neither does a changed byte (GCM's tag).
            #expect(throws: PowerVaultError.self) { try PowerVault.random().open(sealed) }
            var tampered = sealed
            tampered[20] ^= 1
            #expect(throws: PowerVaultError.self) { try harness.store.powerVault.open(tampered) }
            // Two seals of the same text differ (a fresh nonce each).
            let text = Array("same".utf8)
            #expect(try harness.store.powerVault.seal(text) != harness.store.powerVault.seal(text))
        }
    }

    @Test func aRedactedValueSentBackKeepsTheStoredSecret() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (_, _, subnet) = try await api.makeNetwork()
            let id = try await machine(api, subnet: subnet)
            // The GET's answer, edited (a new address) and sent back with "(redacted)" in it.
            let put = #"{"hostname": "node-1", "power_type": "ipmi", "power_parameters": {"address": "198.18.9.2", "username": "admin", "password": "(redacted)"}}"#
            let reply = try await api.put("/machines/\(id)", put)
            #expect(reply.status == 200)
            let sealed = try await harness.store.read { try $0.query("SELECT encode(power_parameters_sealed, 'hex') FROM machines WHERE id = $1::bigint", [String(id)]).scalar }
            let opened = String(decoding: try harness.store.powerVault.open(hexDecoded(sealed ?? "") ?? []), as: UTF8.self)
            #expect(opened.contains(Self.secret))
            #expect(opened.contains("198.18.9.2"))
            // A marker with nothing stored behind it is refused, not stored.
            let fresh = try await api.post("/machines", #"{"hostname": "node-2", "power_type": "ipmi", "power_parameters": {"address": "198.18.9.3", "password": "(redacted)"}}"#)
            #expect(fresh.status == 422)
            let unknown = try await api.put("/machines/\(id)", #"{"hostname": "node-1", "power_type": "ipmi", "power_parameters": {"address": "198.18.9.2", "token": "(redacted)"}}"#)
            #expect(unknown.status == 422)
        }
    }

    @Test func badParametersAre422AndATypeAloneIsKept() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let noSocket = try await api.post("/machines", #"{"hostname": "q1", "power_type": "qmp", "power_parameters": {"off": "reset"}}"#)
            #expect(noSocket.status == 422)
            #expect(noSocket.error?.contains("socket") == true)
            let badCipher = try await api.post("/machines", #"{"hostname": "q2", "power_type": "ipmi", "power_parameters": {"address": "10.0.0.1", "cipher_suite": 40}}"#)
            #expect(badCipher.status == 422)
            #expect(try await api.post("/machines", #"{"hostname": "q3", "power_type": "telnet"}"#).status == 422)
            #expect(try await api.post("/machines", #"{"hostname": "q4", "power_type": "redfish"}"#).status == 201)
        }
    }

    @Test func aRequestGoesToTheServingRackAndItsResultBecomesAnEvent() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, _, subnet) = try await api.makeNetwork()
            let id = try await machine(api, subnet: subnet)
            #expect(try await api.post("/machines/\(id)/power/explode").status == 404)
            #expect(try await api.post("/machines/\(id)/power/on", token: .readOnly).status == 403)
            #expect(try await api.post("/machines/\(id)/power/on?boot=disk").status == 400)
            #expect(try await api.post("/machines/\(id)/power/on?wait=9999").status == 400)

            // The rack has never polled: the operator is not held for it, whatever the wait.
            let queued = try await api.post("/machines/\(id)/power/on?boot=pxe&wait=120")
            #expect(queued.status == 202)
            #expect(queued.string("status") == "pending")

            // The rack's poll: the request, with the parameters opened for it.
            #expect(try await api.get("/rack/power?rack=\(rack)&wait=0", token: .admin).status == 403)
            let poll = try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack)
            #expect(poll.status == 200)
            let requests = try #require(poll.object?["requests"] as? [[String: Any]])
            #expect(requests.count == 1)
            let request = try #require(requests.first)
            #expect(request["action"] as? String == "on")
            #expect(request["boot_pxe"] as? Bool == true)
            #expect(request["power_type"] as? String == "ipmi")
            #expect((request["parameters"] as? String)?.contains(Self.secret) == true)
            #expect((request["context"] as? [String: Any])?["hostname"] as? String == "node-1")
            // Taken once: the next poll finds nothing.
            #expect((try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack).object?["requests"] as? [Any])?.count == 0)

            let requestID = try #require((request["id"] as? NSNumber)?.intValue)
            let report = #"{"rack": \#(rack), "results": [{"id": \#(requestID), "ok": true, "state": "on", "message": "ipmi: Chassis Power Control: Up/On"}]}"#
            #expect(try await api.post("/rack/power", report, token: .rack).int("recorded") == 1)
            // A repeated report changes nothing.
            #expect(try await api.post("/rack/power", report, token: .rack).int("recorded") == 0)

            let power = try await api.get("/machines/\(id)/power")
            #expect(power.string("state") == "on")
            let latest = (power.object?["requests"] as? [[String: Any]])?.first
            #expect(latest?["status"] as? String == "done")
            #expect(try await api.get("/machines/\(id)").string("power_state") == "on")
            let events = try #require(try await api.get("/events").array)
            #expect(events.contains { $0["action"] as? String == "power-request" && $0["actor"] as? String == "admin" })
            #expect(events.contains { $0["action"] as? String == "power-on" && $0["actor"] as? String == "rack rack-1" })
            // A rack takes no more than it asks for; the rest wait for its next poll.
            _ = try await api.post("/machines/\(id)/power/query?wait=0")
            _ = try await api.post("/machines/\(id)/power/query?wait=0")
            let one = try await api.get("/rack/power?rack=\(rack)&wait=0&max=1", token: .rack)
            #expect((one.object?["requests"] as? [Any])?.count == 1)
            #expect((try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack).object?["requests"] as? [Any])?.count == 1)
        }
    }

    @Test func failuresAreNamedInTheirEvents() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, _, subnet) = try await api.makeNetwork()
            let id = try await machine(api, subnet: subnet)
            // (The test client has one connection, so the operator does not wait here: the
            // waiting call is exercised end to end by Tests/integration/test_power.py.)
            #expect(try await api.post("/machines/\(id)/power/off?wait=0").status == 202)
            let poll = try await api.get("/rack/power?rack=\(rack)&wait=1", token: .rack)
            let requestID = try #require(((poll.object?["requests"] as? [[String: Any]])?.first?["id"] as? NSNumber)?.intValue)
            let report = #"{"rack": \#(rack), "results": [{"id": \#(requestID), "ok": false, "error": "unreachable", "message": "ipmi: BMC 198.18.9.1 did not answer within 10 s"}]}"#
            #expect(try await api.post("/rack/power", report, token: .rack).int("recorded") == 1)
            // A repeated report changes nothing.
            #expect(try await api.post("/rack/power", report, token: .rack).int("recorded") == 0)
            let latest = (try await api.get("/machines/\(id)/power").object?["requests"] as? [[String: Any]])?.first
            #expect(latest?["status"] as? String == "failed")
            #expect(latest?["error"] as? String == "unreachable")
            let events = try #require(try await api.get("/events").array)
            let failure = events.first { $0["action"] as? String == "power-unreachable" }
            #expect((failure?["summary"] as? String)?.contains("did not answer") == true)
            // A failed off says nothing about the state.
            #expect(try await api.get("/machines/\(id)/power").string("state") == "unknown")
        }
    }

    @Test func aMachineNoRackServesIsAConflict() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let id = try await api.create("/machines", #"{"hostname": "lonely", "power_type": "manual"}"#)
            let reply = try await api.post("/machines/\(id)/power/on")
            #expect(reply.status == 409)
            #expect(reply.error?.contains("no rack serves") == true)
            #expect(try await api.post("/machines/999999/power/on").status == 404)
        }
    }

    @Test func pollingQueuesQueriesAndRecordsOnlyChanges() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, _, subnet) = try await api.makeNetwork()
            let id = try await machine(api, subnet: subnet)
            _ = try await api.create("/machines", #"{"hostname": "by-hand", "power_type": "manual", "interfaces": [{"mac": "52:54:00:00:00:09", "subnet_id": \#(subnet)}]}"#)
            let poller = PowerPoller(store: harness.store, interval: .seconds(300), logger: .init(label: "test"))
            // The manual machine is not polled; an open request is not doubled.
            #expect(try await poller.pollOnce() == 1)
            #expect(try await poller.pollOnce() == 0)

            func answer(_ state: String) async throws {
                let poll = try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack)
                let request = try #require((poll.object?["requests"] as? [[String: Any]])?.first)
                #expect(request["action"] as? String == "query")
                let requestID = (request["id"] as? NSNumber)?.intValue ?? 0
                let report = #"{"rack": \#(rack), "results": [{"id": \#(requestID), "ok": true, "state": "\#(state)", "message": "ipmi: Chassis Power is \#(state)"}]}"#
                #expect(try await api.post("/rack/power", report, token: .rack).int("recorded") == 1)
            }
            func stateEvents() async throws -> Int {
                try await api.get("/events?limit=1000").array?.filter { $0["action"] as? String == "power-state" }.count ?? -1
            }
            try await answer("off")
            #expect(try await stateEvents() == 1)
            // Due again (as if the interval had passed): the same state records no event.
            try await harness.store.read { _ = try $0.query("UPDATE power_requests SET created_at = now() - interval '1 hour'") }
            #expect(try await poller.pollOnce() == 1)
            try await answer("off")
            #expect(try await stateEvents() == 1)
            try await harness.store.read { _ = try $0.query("UPDATE power_requests SET created_at = now() - interval '1 hour'") }
            #expect(try await poller.pollOnce() == 1)
            try await answer("on")
            #expect(try await stateEvents() == 2)
            #expect(try await api.get("/machines/\(id)").string("power_state") == "on")
        }
    }

    @Test func plaintextParametersFromBeforeSealingAreSealedAtStart() async throws {
        let harness = try await RegionHarness.make()
        let id = try await harness.store.read { connection in
            try connection.query("""
                INSERT INTO machines (hostname, domain_id, power_type, power_parameters)
                VALUES ('old', (SELECT id FROM domains WHERE is_default), 'redfish', '{"address": "10.0.0.9", "password": "\(Self.secret)"}')
                RETURNING id
                """).scalar ?? ""
        }
        #expect(try await harness.store.powerKeyOpensStoredParameters())
        #expect(try await harness.store.sealPlaintextPowerParameters() == 1)
        #expect(try await harness.store.powerKeyOpensStoredParameters())
        var stranger = harness.store
        stranger.powerVault = PowerVault.random()
        #expect(try await !stranger.powerKeyOpensStoredParameters())
        #expect(try await harness.store.sealPlaintextPowerParameters() == 0)
        let row = try await harness.store.read { connection in
            try connection.query("SELECT power_parameters::text AS clear, encode(power_parameters_sealed, 'hex') AS sealed FROM machines WHERE id = $1::bigint", [id]).rows.first
        }
        #expect(row?["clear"]?.contains(Self.secret) == false)
        let opened = try harness.store.powerVault.open(hexDecoded(row?["sealed"] ?? "") ?? [])
        #expect(String(decoding: opened, as: UTF8.self).contains(Self.secret))
    }
}
