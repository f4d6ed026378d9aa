import Foundation
import Testing
@testable import Region

/// `POST /api/v1/enlist`: unknown machines announce themselves, without credentials.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct EnlistTests {
    @Test func anUnknownMachineEnlistsAsNewOnceAndChangesNothingAfter() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let body = #"{"mac": "52:54:00:AA:00:01", "architecture": "arm64", "hostname": "probe"}"#
            let first = try await api.post("/enlist", body, token: .none)
            #expect(first.status == 201)
            #expect(first.string("status") == "new")
            #expect(first.string("hostname") == "probe")
            #expect(first.string("architecture") == "arm64")
            #expect((first.object?["interfaces"] as? [[String: Any]])?.first?["mac"] as? String == "52:54:00:aa:00:01")
            // Again (a reboot into enlistment): the same machine, untouched.
            let again = try await api.post("/enlist", #"{"mac": "52:54:00:aa:00:01", "architecture": "amd64", "hostname": "other"}"#, token: .none)
            #expect(again.status == 200)
            #expect(again.int("id") == first.int("id"))
            #expect(again.string("architecture") == "arm64")
            let events = try #require(try await api.get("/events").array)
            #expect(events.filter { $0["action"] as? String == "enlist" && $0["actor"] as? String == "enlistment" }.count == 1)
            // Enlistment opens nothing else.
            #expect(try await api.get("/machines", token: .none).status == 401)
        }
    }

    @Test func aTakenOrBadHostnameBecomesOneFromTheMAC() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            _ = try await api.post("/enlist", #"{"mac": "52:54:00:aa:00:01", "hostname": "probe"}"#, token: .none)
            let taken = try await api.post("/enlist", #"{"mac": "52:54:00:aa:00:02", "hostname": "probe"}"#, token: .none)
            #expect(taken.status == 201)
            #expect(taken.string("hostname") == "node-525400aa0002")
            let bad = try await api.post("/enlist", #"{"mac": "52:54:00:aa:00:03", "hostname": "Not A Label"}"#, token: .none)
            #expect(bad.string("hostname") == "node-525400aa0003")
            #expect(try await api.post("/enlist", #"{"mac": "52:54:00:aa:00:04"}"#, token: .none).string("hostname") == "node-525400aa0004")
            // Any spelling PostgreSQL reads is one MAC.
            let dotted = try await api.post("/enlist", #"{"mac": "5254.00aa.0008"}"#, token: .none)
            #expect(dotted.string("hostname") == "node-525400aa0008")
            #expect(try await api.post("/enlist", #"{"mac": "52-54-00-AA-00-08"}"#, token: .none).status == 200)
        }
    }

    @Test func badInputIsRefused() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let badMAC = try await api.post("/enlist", #"{"mac": "not-a-mac"}"#, token: .none)
            #expect(badMAC.status == 422)
            #expect(try await api.post("/enlist", #"{"mac": "52:54:00:aa:00:05", "architecture": "vax"}"#, token: .none).status == 422)
            #expect(try await api.post("/enlist", #"{"architecture": "amd64"}"#, token: .none).status == 400)
            #expect(try await api.post("/enlist", #"{"mac": "52:54:00:aa:00:06", "power_type": "qmp", "power_parameters": {"off": "x"}}"#, token: .none).status == 422)
            #expect(try await api.get("/machines").array?.count == 0)
        }
    }

    @Test func aBMCFoundByTheMachineIsSealedAndItsLeaseNamesTheSubnet() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, _, subnet) = try await api.makeNetwork()
            let lease = #"{"rack": \#(rack), "leases": [{"sequence": 1, "address": "198.18.0.150", "mac": "52:54:00:aa:00:07", "state": "bound", "expires_at": 1895740000}]}"#
            #expect(try await api.post("/rack/leases", lease, token: .rack).status == 200)
            let body = #"{"mac": "52:54:00:aa:00:07", "power_type": "ipmi", "power_parameters": {"address": "198.18.1.7", "username": "maas", "password": "bmc-pw-91"}}"#
            let reply = try await api.post("/enlist", body, token: .none)
            #expect(reply.status == 201)
            #expect(!reply.text.contains("bmc-pw-91"))
            #expect(reply.string("power_type") == "ipmi")
            let interface = (reply.object?["interfaces"] as? [[String: Any]])?.first
            #expect((interface?["subnet_id"] as? NSNumber)?.intValue == subnet)
            // So the rack that leased it can power it.
            let id = try #require(reply.int("id"))
            #expect(try await api.post("/machines/\(id)/power/query?wait=0").status == 202)
        }
    }
}
