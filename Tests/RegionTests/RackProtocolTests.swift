import Foundation
import Logging
import Tables
import Testing
@testable import Region

/// The region side of docs/rack-region-protocol.md.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct RackProtocolTests {
    @Test func enrolmentNeedsTheSecretAndKeepsTheRacksId() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let body = #"{"name": "rack-a"}"#
            #expect(try await api.post("/rack/enrol", body, token: .none).status == 401)
            #expect(try await api.post("/rack/enrol", body, token: .raw("Rack wrong")).status == 401)
            // An admin token is no rack secret.
            #expect(try await api.post("/rack/enrol", body, token: .admin).status == 403)

            let first = try await api.post("/rack/enrol", body, token: .rack)
            #expect(first.status == 200)
            #expect(first.string("name") == "rack-a")
            #expect(first.int("leases_acked") == 0)
            let again = try await api.post("/rack/enrol", body, token: .rack)
            #expect(again.int("id") == first.int("id"))
            #expect(try await api.get("/racks").array?.count == 1)
            #expect(try await api.post("/rack/enrol", #"{"name": "Not A Label"}"#, token: .rack).status == 422)
            // One event, for the creation.
            let enrolments = try await api.get("/events").array?.filter { $0["action"] as? String == "enrol" }
            #expect(enrolments?.count == 1)
        }
    }

    @Test func leaseReportsAreIdempotentAndKeepTheNewestRecord() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let rack = try #require(try await api.post("/rack/enrol", #"{"name": "rack-a"}"#, token: .rack).int("id"))
            func lease(_ sequence: Int, _ address: String, _ mac: String, state: String = "bound") -> String {
                #"{"sequence": \#(sequence), "address": "\#(address)", "mac": "\#(mac)", "hostname": "node\#(sequence)", "client_id": "01525400001001", "state": "\#(state)", "expires_at": 1795740000}"#
            }
            let batch = #"{"rack": \#(rack), "leases": [\#(lease(1742, "198.18.0.101", "52:54:00:00:10:01")), \#(lease(1743, "198.18.0.102", "52:54:00:00:10:02"))]}"#
            let reply = try await api.post("/rack/leases", batch, token: .rack)
            #expect(reply.status == 200)
            #expect(reply.int("acked") == 1743)
            // A retried batch changes nothing.
            #expect(try await api.post("/rack/leases", batch, token: .rack).int("acked") == 1743)
            #expect(try await api.get("/leases").array?.count == 2)

            // An older record for an address is ignored; a newer one replaces it.
            let older = #"{"rack": \#(rack), "leases": [\#(lease(1700, "198.18.0.101", "52:54:00:00:99:99", state: "released"))]}"#
            #expect(try await api.post("/rack/leases", older, token: .rack).int("acked") == 1743)
            let newer = #"{"rack": \#(rack), "leases": [\#(lease(1750, "198.18.0.101", "52:54:00:00:10:01", state: "released"))]}"#
            #expect(try await api.post("/rack/leases", newer, token: .rack).int("acked") == 1750)
            let leases = try #require(try await api.get("/leases").array)
            let first = leases.first { $0["ip"] as? String == "198.18.0.101" }
            #expect(first?["state"] as? String == "released")
            #expect(first?["mac"] as? String == "52:54:00:00:10:01")
            #expect((first?["sequence"] as? NSNumber)?.intValue == 1750)

            // Re-enrolment tells the rack where to resume.
            #expect(try await api.post("/rack/enrol", #"{"name": "rack-a"}"#, token: .rack).int("leases_acked") == 1750)

            // A bad record refuses the whole report.
            let bad = #"{"rack": \#(rack), "leases": [\#(lease(1800, "198.18.0.103", "52:54:00:00:10:03")), \#(lease(1801, "not-an-address", "52:54:00:00:10:04"))]}"#
            #expect(try await api.post("/rack/leases", bad, token: .rack).status == 422)
            #expect(try await api.get("/leases").array?.count == 2)
            let tooMany = #"{"rack": \#(rack), "leases": [\#((1...1001).map { lease($0, "198.18.1.1", "52:54:00:00:10:05") }.joined(separator: ","))]}"#
            #expect(try await api.post("/rack/leases", tooMany, token: .rack).status == 422)
            #expect(try await api.post("/rack/leases", #"{"rack": 424242, "leases": []}"#, token: .rack).status == 404)
            #expect(try await api.post("/rack/leases", #"{"rack": \#(rack)}"#, token: .rack).status == 400)
        }
    }

    @Test func eventReportsLandInTheEventLogOnce() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let rack = try #require(try await api.post("/rack/enrol", #"{"name": "rack-e"}"#, token: .rack).int("id"))
            func event(_ sequence: Int, _ action: String, _ summary: String) -> String {
                #"{"sequence": \#(sequence), "at": 1795740000, "action": "\#(action)", "summary": "\#(summary)"}"#
            }
            let batch = #"{"rack": \#(rack), "events": [\#(event(1, "start", "serving generation 3")), \#(event(2, "region-lost", "connection refused"))]}"#
            let reply = try await api.post("/rack/events", batch, token: .rack)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.int("acked") == 2)
            // A retried report (the answer was lost) stores nothing twice.
            #expect(try await api.post("/rack/events", batch, token: .rack).int("acked") == 2)
            let fromRack = try #require(try await api.get("/events?limit=1000").array).filter { $0["actor"] as? String == "rack rack-e" }
            #expect(fromRack.compactMap { $0["action"] as? String }.sorted() == ["region-lost", "start"])
            #expect(fromRack.allSatisfy { $0["object_id"] as? String == String(rack) && $0["object_type"] as? String == "rack_controller" })
            // Enrolment tells the rack where to resume; the rack's row shows it.
            #expect(try await api.post("/rack/enrol", #"{"name": "rack-e"}"#, token: .rack).int("events_acked") == 2)
            #expect(try await api.get("/racks/\(rack)").int("events_acked") == 2)

            // Bad reports are refused whole.
            let badAction = #"{"rack": \#(rack), "events": [\#(event(3, "Drop Table", "x"))]}"#
            #expect(try await api.post("/rack/events", badAction, token: .rack).status == 422)
            let zero = #"{"rack": \#(rack), "events": [\#(event(0, "start", "x"))]}"#
            #expect(try await api.post("/rack/events", zero, token: .rack).status == 422)
            #expect(try await api.post("/rack/events", #"{"rack": 424242, "events": []}"#, token: .rack).status == 404)
            #expect(try await api.post("/rack/events", batch, token: .admin).status == 403)
            #expect(try await api.post("/rack/enrol", #"{"name": "rack-e"}"#, token: .rack).int("events_acked") == 2)
        }
    }

    /// The stream sends the current generation at once and each new one as the model changes.
    // A missed announcement would otherwise wait forever and hold the whole run.
    @Test(.timeLimit(.minutes(1))) func streamAnnouncesEachNewGeneration() async throws {
        let harness = try await RegionHarness.make()
        var logger = Logger(label: "stream-test")
        logger.logLevel = .warning
        let compiler = CompilerService(connectionString: harness.connectionString, debounce: .milliseconds(20), metrics: harness.metrics, logger: logger)
        let announced = compiler.publications()
        try await harness.run(compiler: compiler) { api in
            let rack = try #require(try await api.post("/rack/enrol", #"{"name": "rack-a"}"#, token: .rack).int("id"))
            // Enrolment changed the model: wait for the rack's first tables.
            for await tables in announced where tables.rackID == Int64(rack) { break }

            #expect(try await api.send(.get, "/api/v1/rack/stream", token: .rack).status == 400)
            #expect(try await api.send(.get, "/api/v1/rack/stream?rack=424242", token: .rack).status == 404)

            let port = try #require(api.client.port)
            let stream = try EventStreamClient(port: port, path: "/api/v1/rack/stream?rack=\(rack)", authorization: "Rack \(harness.rackSecret)")
            let first = try #require(try await stream.nextData())
            #expect(stream.received.hasPrefix("HTTP/1.1 200"))
            #expect(stream.received.lowercased().contains("content-type: text/event-stream"))
            let current = try await api.get("/racks/\(rack)/tables", token: .rack)
            let firstObject = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
            #expect(firstObject["sha256"] as? String == current.string("sha256"))
            #expect((firstObject["generation"] as? NSNumber)?.intValue == current.int("generation"))

            // A VLAN the rack serves, with a subnet: new tables, announced on the stream.
            let fabric = try await api.create("/fabrics", #"{"name": "fabric-0"}"#)
            let vlan = try await api.create("/vlans", #"{"fabric_id": \#(fabric), "vid": 1, "dhcp_on": true, "primary_rack_id": \#(rack)}"#)
            _ = try await api.create("/subnets", #"{"vlan_id": \#(vlan), "cidr": "198.18.0.0/24"}"#)
            var latest = firstObject
            while let next = try await stream.nextData() {
                latest = try #require(try JSONSerialization.jsonObject(with: Data(next.utf8)) as? [String: Any])
                #expect(((latest["generation"] as? NSNumber)?.intValue ?? 0) > ((firstObject["generation"] as? NSNumber)?.intValue ?? 0))
                let tables = try await api.get("/racks/\(rack)/tables/\(latest["sha256"] as? String ?? "")", token: .rack)
                if let snapshot = try? TableSnapshot(tables.bytes), snapshot.subnetCount == 1 { break }
            }
            #expect(latest["sha256"] as? String != firstObject["sha256"] as? String)
        }
    }
}
