import Foundation
import Tables
import Testing
import Wire
@testable import Region
import Responders

/// The lifecycle's pure rules: states, reports, timeouts, tokens.
@Suite struct LifecycleRuleTests {
    @Test func reportsMoveOnlyTheReportingStates() {
        #expect(MachineReport.next(from: .commissioning, outcome: .ok) == .ready)
        #expect(MachineReport.next(from: .deploying, outcome: .ok) == .deployed)
        #expect(MachineReport.next(from: .commissioning, outcome: .failed) == .failedCommissioning)
        #expect(MachineReport.next(from: .deploying, outcome: .failed) == .failedDeployment)
        for status in MachineStatus.allCases where status != .commissioning && status != .deploying {
            #expect(MachineReport.next(from: status, outcome: .ok) == nil)
            #expect(MachineReport.next(from: status, outcome: .failed) == nil)
        }
    }

    @Test func failedStatesHaveTheirWaysOut() {
        #expect(MachineAction.commission.next(from: .failedCommissioning) == .commissioning)
        #expect(MachineAction.commission.next(from: .failedDeployment) == .commissioning)
        #expect(MachineAction.release.next(from: .failedDeployment) == .releasing)
        #expect(MachineAction.markBroken.next(from: .failedCommissioning) == .broken)
        #expect(MachineAction.markBroken.next(from: .failedDeployment) == .broken)
        #expect(MachineAction.deploy.next(from: .failedCommissioning) == nil)
        #expect(MachineAction.deploy.next(from: .failedDeployment) == nil)
        #expect(MachineAction.release.next(from: .failedCommissioning) == nil)
        #expect(MachineStatus.failedCommissioning.bootPurpose == "local")
        #expect(MachineStatus.failedDeployment.label == "Failed deployment")
        #expect(MachineAction.commission.startsReportingBoot && MachineAction.deploy.startsReportingBoot)
        #expect(!MachineAction.release.startsReportingBoot && !MachineAction.complete.startsReportingBoot)
    }

    @Test func theTimeoutFailsOnlyWaitingMachinesAndOnlyOnceDue() {
        #expect(LifecycleTimeout.verdict(status: .commissioning, waited: 59, timeout: 60) == nil)
        let due = LifecycleTimeout.verdict(status: .commissioning, waited: 60, timeout: 60)
        #expect(due?.0 == .failedCommissioning && due?.1 == "no report within 60 s")
        #expect(LifecycleTimeout.verdict(status: .deploying, waited: 1000, timeout: 60)?.0 == .failedDeployment)
        for status in [MachineStatus.new, .ready, .deployed, .releasing, .broken, .failedCommissioning, .failedDeployment] {
            #expect(LifecycleTimeout.verdict(status: status, waited: 1_000_000, timeout: 1) == nil)
        }
    }

    @Test func tokensAreDerivedPerMachineAndNonceUnderTheKey() {
        let vault = PowerVault.random()
        let key = BootTokenKey(vault: vault)
        let token = key.token(machine: "7", nonce: "00112233445566778899aabbccddeeff")
        #expect(token.hasPrefix("rpb_") && token.count == 4 + 64)
        #expect(token == BootTokenKey(vault: vault).token(machine: "7", nonce: "00112233445566778899aabbccddeeff"))
        #expect(token != key.token(machine: "8", nonce: "00112233445566778899aabbccddeeff"))
        #expect(token != key.token(machine: "7", nonce: "00112233445566778899aabbccddeefe"))
        #expect(token != BootTokenKey(vault: .random()).token(machine: "7", nonce: "00112233445566778899aabbccddeeff"))
        #expect(BootTokenKey.newNonce() != BootTokenKey.newNonce())
        #expect(BootTokenKey.newNonce().count == 32)
    }

    /// RFC 4231 test case 2 pins the HMAC the tokens are made with.
    @Test func hmacMatchesRFC4231() {
        let mac = HMACSHA256.mac(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(hexString(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Case 6: a key longer than the block is hashed first.
        let long = HMACSHA256.mac(key: [UInt8](repeating: 0xaa, count: 131),
                                  message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        #expect(hexString(long) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func regionURLsAreCheckedForTheCommandLine() {
        #expect(RackSiteBuilder.regionURL("http://198.18.0.1:5240/") == "http://198.18.0.1:5240")
        #expect(RackSiteBuilder.regionURL("https://region.example") == "https://region.example")
        #expect(RackSiteBuilder.regionURL("http://a b") == nil)
        #expect(RackSiteBuilder.regionURL("ftp://x") == nil)
        #expect(RackSiteBuilder.regionURL(nil) == nil)
    }

    @Test func reportPathsAreRecognised() {
        #expect(ReportRoutes.isReportPath("/api/v1/machines/12/report"))
        #expect(!ReportRoutes.isReportPath("/api/v1/machines/12/commission"))
        #expect(!ReportRoutes.isReportPath("/api/v1/machines/12/report/x"))
        #expect(!ReportRoutes.isReportPath("/api/v1/machines/report"))
    }
}

/// Reports, tokens, timeouts and the compiled command lines, over a real database.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct LifecycleAPITests {
    static let mac = MACAddress("52:54:00:00:0a:01")!

    /// A served network and a qmp machine on it; returns the machine's id and the rack's.
    func machine(_ api: APIClient) async throws -> (machine: Int, rack: Int) {
        let network = try await api.makeNetwork()
        let machine = try await api.create("/machines", """
            {"hostname": "vm-1", "power_type": "qmp", "power_parameters": {"socket": "/tmp/none.sock"},
             "interfaces": [{"mac": "\(Self.mac)", "subnet_id": \(network.subnet)}]}
            """)
        return (machine, network.rack)
    }

    /// The token of the machine's current boot, derived as the compiler does.
    func bootToken(_ harness: RegionHarness, machine: Int) async throws -> String {
        let nonce = try await harness.store.read { try $0.query("SELECT nonce FROM boot_tokens WHERE machine_id = $1::bigint", [String(machine)]).scalar }
        return BootTokenKey(vault: harness.store.powerVault).token(machine: String(machine), nonce: try #require(nonce))
    }

    func report(_ api: APIClient, _ machine: Int, _ body: String, token: String?) async throws -> APIClient.Reply {
        try await api.post("/machines/\(machine)/report", body, token: token.map { .raw("Bearer \($0)") } ?? .none)
    }

    @Test func commissionMintsATokenQueuesACycleAndTheReportMakesItReady() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, _) = try await machine(api)
            let started = try await api.post("/machines/\(machine)/commission")
            #expect(started.status == 200)
            #expect(started.string("status") == "commissioning")
            // Only the digest is stored; the power cycle waits for the rack.
            let stored = try await harness.store.read { try $0.query("SELECT token_sha256, purpose FROM boot_tokens WHERE machine_id = $1::bigint", [String(machine)]).rows.first }
            let token = try await bootToken(harness, machine: machine)
            #expect(stored?["token_sha256"] == Secrets.sha256Hex(token))
            #expect(stored?["purpose"] == "commission")
            let power = try await api.get("/machines/\(machine)/power")
            let requests = try #require(power.object?["requests"] as? [[String: Any]])
            #expect(requests.first?["action"] as? String == "cycle")
            #expect(requests.first?["boot_pxe"] as? Bool == true)
            #expect(requests.first?["source"] as? String == "lifecycle")

            // Neither an API token nor nothing opens the report.
            #expect(try await report(api, machine, #"{"status": "ok"}"#, token: harness.adminToken).status == 401)
            #expect(try await report(api, machine, #"{"status": "ok"}"#, token: nil).status == 401)
            #expect(try await report(api, machine, #"{"status": "ok"}"#, token: "rpb_" + String(repeating: "0", count: 64)).status == 401)
            // Bad bodies are 4xx, token or not.
            for body in [#"{"status": "done"}"#, #"{"status": 1}"#, #"{}"#, "not json", #"{"status": "ok", "facts": [1]}"#,
                         #"{"status": "ok", "message": "\#(String(repeating: "x", count: 2001))"}"#,
                         #"{"status": "ok", "message": "a\u0000b"}"#, #"{"status": "ok", "facts": {"a": "\u0000"}}"#] {
                let reply = try await report(api, machine, body, token: token)
                #expect((400..<500).contains(reply.status), "\(body): \(reply.status) \(reply.text)")
            }
            #expect(try await api.get("/machines/\(machine)").string("status") == "commissioning")

            let done = try await report(api, machine, #"{"status": "ok", "facts": {"cpus": 1, "memory_mib": 256}}"#, token: token)
            #expect(done.status == 200, "\(done.text)")
            #expect(done.string("status") == "ready")
            #expect((done.object?["facts"] as? [String: Any])?["cpus"] as? Int == 1)
            // One report per boot.
            let again = try await report(api, machine, #"{"status": "ok"}"#, token: token)
            #expect(again.status == 403)
            #expect(again.error?.contains("already used") == true)

            let events = try #require(try await api.get("/events?limit=100").array)
            let reports = events.filter { $0["action"] as? String == "report" }
            #expect(reports.count == 1)
            #expect(reports.first?["actor"] as? String == "machine vm-1")
            #expect(events.contains { $0["action"] as? String == "report-refused" })
            #expect(events.contains { $0["action"] as? String == "power-request" && ($0["summary"] as? String ?? "").contains("power cycle") })
        }
    }

    @Test func deployReportsWithABodyTokenAndAFailureIsKeptWithItsMessage() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, _) = try await machine(api)
            _ = try await api.post("/machines/\(machine)/commission")
            _ = try await report(api, machine, #"{"status": "ok"}"#, token: try await bootToken(harness, machine: machine))
            let commissionToken = try await bootToken(harness, machine: machine)
            #expect(try await api.post("/machines/\(machine)/deploy").string("status") == "deploying")
            let token = try await bootToken(harness, machine: machine)
            #expect(token != commissionToken)
            // The old boot's token is no longer this boot's.
            #expect(try await report(api, machine, #"{"status": "ok"}"#, token: commissionToken).status == 401)
            let failed = try await report(api, machine, #"{"status": "failed", "message": "disk sda not found", "token": "\#(token)"}"#, token: nil)
            #expect(failed.status == 200, "\(failed.text)")
            #expect(failed.string("status") == "failed_deployment")
            #expect(failed.string("status_message") == "disk sda not found")
            // From Failed deployment: release, commission or mark broken; not deploy.
            #expect(try await api.post("/machines/\(machine)/deploy").status == 409)
            #expect(try await api.get("/machines?status=failed_deployment").array?.count == 1)
            let recommissioned = try await api.post("/machines/\(machine)/commission")
            #expect(recommissioned.string("status") == "commissioning")
            #expect(recommissioned.string("status_message") == "")
        }
    }

    @Test func aReportInTheWrongStateIs409AndAnExpiredTokenIs403() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, _) = try await machine(api)
            _ = try await api.post("/machines/\(machine)/commission")
            let token = try await bootToken(harness, machine: machine)
            _ = try await api.post("/machines/\(machine)/mark-broken")
            let wrongState = try await report(api, machine, #"{"status": "ok"}"#, token: token)
            #expect(wrongState.status == 409)
            #expect(try await api.get("/machines/\(machine)").string("status") == "broken")

            _ = try await api.post("/machines/\(machine)/commission")
            let fresh = try await bootToken(harness, machine: machine)
            try await harness.store.read { _ = try $0.query("UPDATE boot_tokens SET expires_at = now() - interval '1 second'") }
            let expired = try await report(api, machine, #"{"status": "ok"}"#, token: fresh)
            #expect(expired.status == 403)
            #expect(expired.error?.contains("expired") == true)
            // An unknown machine: the token opens nothing there either.
            #expect(try await report(api, 9999, #"{"status": "ok"}"#, token: fresh).status == 404)
        }
    }

    @Test func aCheckThatFindsNothingOverdueLeavesTheModelAlone() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, _) = try await machine(api)
            _ = try await api.post("/machines/\(machine)/commission")
            let timeouts = LifecycleTimeouts(store: harness.store, timeoutSeconds: 60, logger: .init(label: "test"))
            // What the compiler reads to know whether the machines changed (migration 015).
            func counter() async throws -> String? {
                try await harness.store.read { try $0.query("SELECT last_value::text FROM model_interfaces_changes").scalar }
            }
            let before = try await counter()
            #expect(try await timeouts.checkOnce().isEmpty)
            #expect(try await timeouts.checkOnce().isEmpty)
            #expect(try await counter() == before)
            // Once a machine is due, the check writes, and the counter moves.
            try await harness.store.read {
                _ = try $0.query("UPDATE machines SET status_changed_at = now() - interval '61 seconds' WHERE id = $1::bigint", [String(machine)])
            }
            let due = try await counter()
            #expect(due != before)
            #expect(try await timeouts.checkOnce() == [String(machine)])
            #expect(try await counter() != due)
        }
    }

    @Test func overdueMachinesFailWithTheReasonAndAnEvent() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, _) = try await machine(api)
            let other = try await api.create("/machines", #"{"hostname": "vm-2"}"#)
            _ = try await api.post("/machines/\(machine)/commission")
            _ = try await api.post("/machines/\(other)/commission")
            let timeouts = LifecycleTimeouts(store: harness.store, timeoutSeconds: 60, logger: .init(label: "test"))
            #expect(try await timeouts.checkOnce().isEmpty)
            try await harness.store.read {
                _ = try $0.query("UPDATE machines SET status_changed_at = now() - interval '61 seconds' WHERE id = $1::bigint", [String(machine)])
            }
            #expect(try await timeouts.checkOnce() == [String(machine)])
            let failed = try await api.get("/machines/\(machine)")
            #expect(failed.string("status") == "failed_commissioning")
            #expect(failed.string("status_message") == "no report within 60 s")
            #expect(try await api.get("/machines/\(other)").string("status") == "commissioning")
            // Once: a second pass finds nothing.
            #expect(try await timeouts.checkOnce().isEmpty)
            let events = try #require(try await api.get("/events?limit=100").array)
            let timeout = events.filter { $0["action"] as? String == "timeout" }
            #expect(timeout.count == 1)
            #expect(timeout.first?["actor"] as? String == "region")
            #expect((timeout.first?["summary"] as? String)?.contains("no report within 60 s") == true)
            // A late report is refused.
            #expect(try await report(api, machine, #"{"status": "ok"}"#, token: try await bootToken(harness, machine: machine)).status == 409)
        }
    }

    @Test func theCompilerRendersTheReportURLAndTokenAndTheEnlistURL() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, rack) = try await machine(api)
            _ = try await api.create("/boot-resources", """
                {"name": "rackplane/ephemeral", "architecture": "amd64",
                 "kernel_file": "vmlinuz", "kernel_size": 1, "kernel_sha256": "\(String(repeating: "a", count: 64))",
                 "initrd_file": "initrd.gz", "initrd_size": 1, "initrd_sha256": "\(String(repeating: "b", count: 64))"}
                """)
            _ = try await api.post("/machines/\(machine)/commission")
            let token = try await bootToken(harness, machine: machine)
            let settings = CompilerBootSettings(tokenKey: BootTokenKey(vault: harness.store.powerVault),
                                                regionURL: "http://198.18.0.1:5240/", kernelOptions: "console=ttyS0")
            _ = try TablesCompiler(boot: settings).compileAll(on: PostgresConnection(harness.connectionString))
            let current = try await api.get("/racks/\(rack)/tables")
            let blob = try await api.get("/racks/\(rack)/tables/\(try #require(current.string("sha256")))", token: .rack)
            let snapshot = try TableSnapshot(blob.bytes)
            let reservation = try #require(snapshot.reservation(mac: Self.mac))
            let systemID = try #require(try await api.get("/machines/\(machine)").string("system_id"))
            #expect(String(decoding: reservation.bootArguments, as: UTF8.self)
                    == "rackplane.report=http://198.18.0.1:5240/api/v1/machines/\(machine)/report rackplane.token=\(token) rackplane.system_id=\(systemID)")
            #expect(String(decoding: snapshot.enlistBootArguments, as: UTF8.self) == "rackplane.enlist=http://198.18.0.1:5240/api/v1/enlist")
            #expect(String(decoding: snapshot.bootProfile(0).kernel, as: UTF8.self) == "rackplane/ephemeral/amd64/vmlinuz")

            // What the rack renders from it.
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
            defer { output.deallocate() }
            var responder = BootConfigResponder()
            let verdict = responder.respond(path: "pxelinux.cfg/01-52-54-00-00-0a-01",
                                            request: BootConfigRequest(client: IPv4Address(198, 18, 0, 150), local: IPv4Address(198, 18, 0, 1)),
                                            tables: snapshot, output: output)
            guard case .config(let length, _, let purpose, _) = verdict else { Issue.record("\(verdict)"); return }
            #expect(purpose == .commission)
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: output[..<length]), as: UTF8.self)
            #expect(text.contains("APPEND console=ttyS0 rackplane.purpose=commission rackplane.mac=52:54:00:00:0a:01 rackplane.report=http://198.18.0.1:5240/api/v1/machines/\(machine)/report rackplane.token=\(token)"))
            // An unknown MAC enlists at the region.
            let unknown = responder.respond(path: "pxelinux.cfg/01-52-54-00-00-0a-99",
                                            request: BootConfigRequest(client: IPv4Address(198, 18, 0, 151), local: IPv4Address(198, 18, 0, 1)),
                                            tables: snapshot, output: output)
            guard case .config(let enlistLength, _, .enlist, _) = unknown else { Issue.record("\(unknown)"); return }
            #expect(String(decoding: UnsafeRawBufferPointer(rebasing: output[..<enlistLength]), as: UTF8.self)
                .contains("rackplane.purpose=enlist rackplane.mac=52:54:00:00:0a:99 rackplane.enlist=http://198.18.0.1:5240/api/v1/enlist"))

            // Once reported, the token leaves the tables.
            _ = try await report(api, machine, #"{"status": "ok"}"#, token: token)
            _ = try TablesCompiler(boot: settings).compileAll(on: PostgresConnection(harness.connectionString))
            let after = try await api.get("/racks/\(rack)/tables")
            let blob2 = try await api.get("/racks/\(rack)/tables/\(try #require(after.string("sha256")))", token: .rack)
            // The snapshot must outlive its views (they hold it unowned).
            let reported = try TableSnapshot(blob2.bytes)
            #expect(try #require(reported.reservation(mac: Self.mac)).bootArguments.isEmpty)
            withExtendedLifetime(reported) {}
        }
    }

    @Test func releasePowersTheMachineOffAndTheRacksConfirmationMakesItReady() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, rack) = try await machine(api)
            try await harness.store.read {
                _ = try $0.query("UPDATE machines SET status = 'deployed', boot_purpose = 'local' WHERE id = $1::bigint", [String(machine)])
            }
            #expect(try await api.post("/machines/\(machine)/release").string("status") == "releasing")
            let poll = try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack)
            let request = try #require((poll.object?["requests"] as? [[String: Any]])?.first)
            #expect(request["action"] as? String == "off")
            #expect(request["boot_pxe"] as? Bool == false)
            let id = try #require((request["id"] as? NSNumber)?.intValue)
            // A failed power off leaves it Releasing, for the operator to look at.
            let failed = #"{"rack": \#(rack), "results": [{"id": \#(id), "ok": false, "message": "qmp: no QEMU at /tmp/none.sock", "error": "unreachable"}]}"#
            #expect(try await api.post("/rack/power", failed, token: .rack).int("recorded") == 1)
            #expect(try await api.get("/machines/\(machine)").string("status") == "releasing")

            #expect(try await api.post("/machines/\(machine)/release").status == 409)
            let retry = try await harness.store.read {
                try $0.query("""
                    INSERT INTO power_requests (machine_id, rack_id, action, source, actor)
                    VALUES ($1::bigint, $2::bigint, 'off', 'lifecycle', 'admin') RETURNING id
                    """, [String(machine), String(rack)]).scalar
            }
            let done = #"{"rack": \#(rack), "results": [{"id": \#(try #require(retry)), "ok": true, "state": "off", "message": "qmp: powered off"}]}"#
            #expect(try await api.post("/rack/power", done, token: .rack).int("recorded") == 1)
            let released = try await api.get("/machines/\(machine)")
            #expect(released.string("status") == "ready")
            #expect(released.string("boot_purpose") == "local")
            let events = try #require(try await api.get("/events?machine=\(machine)&limit=50").array)
            #expect(events.contains { $0["action"] as? String == "released" && $0["actor"] as? String == "rack rack-1" })
        }
    }

    @Test func aBootingMachineReadsItsProxySettingsWithItsBootToken() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, _) = try await machine(api)
            let other = try await api.create("/machines", #"{"hostname": "vm-2"}"#)
            _ = try await api.post("/machines/\(machine)/commission")
            let token = try await bootToken(harness, machine: machine)
            let proxy = try await api.get("/machines/\(machine)/proxy", token: .raw("Bearer \(token)"))
            #expect(proxy.status == 200, "\(proxy.text)")
            #expect(proxy.object?["enabled"] != nil)
            // Its token opens its own settings only, and nothing else.
            #expect(try await api.get("/machines/\(other)/proxy", token: .raw("Bearer \(token)")).status == 401)
            #expect(try await api.get("/machines/\(machine)", token: .raw("Bearer \(token)")).status == 401)
            #expect(try await api.get("/machines/\(machine)/proxy", token: .raw("Bearer rpb_\(String(repeating: "0", count: 64))")).status == 401)
            // Once the boot reported, the token is spent.
            #expect(try await report(api, machine, #"{"status": "ok"}"#, token: token).status == 200)
            #expect(try await api.get("/machines/\(machine)/proxy", token: .raw("Bearer \(token)")).status == 403)
            #expect(try await api.get("/machines/\(machine)/proxy").status == 200)
        }
    }

    @Test func thePowerCycleWaitsForTheRacksNewTables() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, rack) = try await machine(api)
            _ = try TablesCompiler().compileAll(on: PostgresConnection(harness.connectionString))
            _ = try await api.post("/machines/\(machine)/commission")
            // Not before the tables that render the machine's commissioning boot are published.
            let early = try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack)
            #expect((early.object?["requests"] as? [Any])?.count == 0, "\(early.text)")
            _ = try TablesCompiler().compileAll(on: PostgresConnection(harness.connectionString))
            let ready = try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack)
            let requests = try #require(ready.object?["requests"] as? [[String: Any]])
            #expect(requests.count == 1)
            #expect(requests.first?["action"] as? String == "cycle")
        }
    }

    @Test func theCycleWaitsForWhatTheRackServesNotOnlyWhatWasPublished() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, rack) = try await machine(api)
            _ = try TablesCompiler().compileAll(on: PostgresConnection(harness.connectionString))
            let published = try #require(try await api.get("/racks/\(rack)").int("tables_generation"))
            #expect(try await api.post("/rack/serving", #"{"rack": \#(rack), "generation": \#(published)}"#, token: .rack).status == 204)
            _ = try await api.post("/machines/\(machine)/commission")
            _ = try TablesCompiler().compileAll(on: PostgresConnection(harness.connectionString))
            // Published, but the rack still serves the old generation: held.
            let held = try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack)
            #expect((held.object?["requests"] as? [Any])?.count == 0, "\(held.text)")
            #expect(try await api.post("/rack/serving", #"{"rack": \#(rack), "generation": \#(published + 1)}"#, token: .rack).status == 204)
            #expect(try await api.get("/racks/\(rack)").int("serving_generation") == published + 1)
            let sent = try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack)
            #expect((sent.object?["requests"] as? [[String: Any]])?.first?["action"] as? String == "cycle")
            // Bad reports are refused, and only with the rack secret.
            #expect(try await api.post("/rack/serving", #"{"rack": \#(rack), "generation": -1}"#, token: .rack).status == 422)
            #expect(try await api.post("/rack/serving", #"{"rack": 999999, "generation": 1}"#, token: .rack).status == 404)
            #expect(try await api.post("/rack/serving", #"{"rack": \#(rack)}"#, token: .rack).status == 400)
            #expect(try await api.post("/rack/serving", #"{"rack": \#(rack), "generation": 1}"#).status == 403)
        }
    }

    @Test func aGenerationCompiledBeforeTheActionDoesNotReleaseItsCycle() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, rack) = try await machine(api)
            _ = try TablesCompiler().compileAll(on: PostgresConnection(harness.connectionString))
            _ = try await api.post("/machines/\(machine)/commission")
            // A compile that read the model before the commission committed publishes a newer
            // generation without the machine's token; the rack serves it: not enough.
            try await harness.store.read {
                _ = try $0.query("""
                    UPDATE rack_controllers SET tables_generation = nextval('tables_generation'),
                        serving_generation = currval('tables_generation') WHERE id = $1::bigint
                    """, [String(rack)])
            }
            let early = try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack)
            #expect((early.object?["requests"] as? [Any])?.count == 0, "\(early.text)")
            // The next compile holds the commission: its generation is the one to serve.
            _ = try TablesCompiler().compileAll(on: PostgresConnection(harness.connectionString))
            let ready = try #require(try await harness.store.read {
                try $0.query("SELECT ready_generation FROM power_requests WHERE machine_id = $1::bigint AND status = 'pending'", [String(machine)]).scalar
            }.flatMap(Int.init))
            #expect(try await api.get("/racks/\(rack)").int("tables_generation") == ready)
            #expect((try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack).object?["requests"] as? [Any])?.count == 0)
            #expect(try await api.post("/rack/serving", #"{"rack": \#(rack), "generation": \#(ready)}"#, token: .rack).status == 204)
            let sent = try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack)
            #expect((sent.object?["requests"] as? [[String: Any]])?.first?["action"] as? String == "cycle")
        }
    }

    @Test func aReleaseSupersedesTheDeploysPendingCycle() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (machine, rack) = try await machine(api)
            try await harness.store.read {
                _ = try $0.query("UPDATE machines SET status = 'ready' WHERE id = $1::bigint", [String(machine)])
            }
            _ = try await api.post("/machines/\(machine)/deploy")
            #expect(try await api.post("/machines/\(machine)/release").string("status") == "releasing")
            let requests = try #require(try await api.get("/machines/\(machine)/power").object?["requests"] as? [[String: Any]])
            let cycle = try #require(requests.first { $0["action"] as? String == "cycle" })
            #expect(cycle["status"] as? String == "failed")
            #expect(cycle["message"] as? String == "superseded by a power off")
            // Only the power off reaches the rack.
            let sent = try await api.get("/rack/power?rack=\(rack)&wait=0", token: .rack)
            #expect((sent.object?["requests"] as? [[String: Any]])?.map { $0["action"] as? String } == ["off"])
        }
    }

    @Test func aRackEnrollingRecordsTheURLItReachedTheRegionAt() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            #expect(try await api.post("/rack/enrol", #"{"name": "rack-x"}"#, token: .rack).status == 200)
            let url = try await harness.store.read { try $0.query("SELECT region_url FROM rack_controllers WHERE name = 'rack-x'").scalar }
            #expect(url?.hasPrefix("http://") == true)
        }
    }
}
