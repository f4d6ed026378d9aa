import Foundation
import Power
import Testing

/// The webhook driver against a Python HTTP server (Tests/integration/power_peers/webhook_peer.py).
struct WebhookPowerTests {
    let context = PowerContext(systemID: "x7kp3q", hostname: "node9")

    struct Server {
        let peer: Peer
        let port: UInt16
        let log: String
        let scheme: String

        var requests: [[String: Any]] {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        func parameters(token: String, _ extra: [String: Any] = [:]) -> [UInt8] {
            let base = "\(scheme)://127.0.0.1:\(port)/power"
            var parameters: [String: Any] = [
                "on_url": base + "/on/{{system_id}}", "off_url": base + "/off/{{system_id}}",
                "query_url": base + "/status/{{system_id}}",
                "body": #"{"machine": "{{hostname}}", "action": "{{action}}"}"#,
                "headers": ["Authorization": "Bearer " + token, "Content-Type": "application/json"],
                "on_pattern": #""state": "on""#, "off_pattern": #""state": "off""#,
                "retries": 0, "timeout": 5,
            ]
            parameters.merge(extra) { $1 }
            return Scratch.json(parameters)
        }
    }

    func start(_ directory: String, tls: Bool = false) throws -> Server {
        var arguments = [Peer.peersDirectory + "/webhook_peer.py", "--token", "s3cret", "--ready", directory + "/port", "--log", directory + "/requests.jsonl"]
        if tls {
            let (certificate, key) = try Scratch.selfSignedCertificate(in: directory)
            arguments += ["--cert", certificate, "--key", key]
        }
        let peer = try Peer("/usr/bin/env", ["python3"] + arguments, log: directory + "/server.log")
        try peer.wait(for: "webhook peer") { FileManager.default.fileExists(atPath: directory + "/port") }
        let port = UInt16(try String(contentsOfFile: directory + "/port", encoding: .utf8))!
        return Server(peer: peer, port: port, log: directory + "/requests.jsonl", scheme: tls ? "https" : "http")
    }

    @Test func actionsCallTheirURLsWithTemplatedBodiesAndHeaders() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try start(directory)
        defer { server.peer.stop() }
        let driver = try PowerDrivers.make(type: "webhook", parameters: server.parameters(token: "s3cret"), context: context)

        #expect(try driver.perform(.query).state == .off)
        #expect(try driver.perform(.on).state == .on)
        #expect(try driver.perform(.query).state == .on)
        // No cycle_url: off, then on.
        #expect(try driver.perform(.cycle).state == .on)
        #expect(try driver.perform(.off).state == .off)
        #expect(try driver.perform(.query).state == .off)

        let requests = server.requests
        #expect(requests.map { "\($0["method"]!) \($0["path"]!)" } == [
            "GET /power/status/x7kp3q", "POST /power/on/x7kp3q", "GET /power/status/x7kp3q",
            "POST /power/off/x7kp3q", "POST /power/on/x7kp3q", "POST /power/off/x7kp3q", "GET /power/status/x7kp3q",
        ])
        let on = requests[1]
        #expect(on["body"] as? String == #"{"machine": "node9", "action": "on"}"#)
        let headers = on["headers"] as? [String: String]
        #expect(headers?["authorization"] == "Bearer s3cret")
        #expect(headers?["content-type"] == "application/json")
        // No soft_off_url: said so, nothing sent.
        #expect(throws: PowerError(.unsupported, "webhook: no URL for soft-off")) { try driver.perform(.softOff) }
    }

    @Test func aRefusedTokenIsAnAuthenticationError() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try start(directory)
        defer { server.peer.stop() }
        let driver = try PowerDrivers.make(type: "webhook", parameters: server.parameters(token: "wrong"), context: context)
        do {
            _ = try driver.perform(.on)
            Issue.record("a wrong token powered the machine on")
        } catch let error as PowerError {
            #expect(error.kind == .authentication)
            #expect(error.message.contains("HTTP 401"))
            // The credential is not in the message.
            #expect(!error.message.contains("wrong"))
        }
        // Refused credentials are not retried (an account could be locked out).
        let retrying = try PowerDrivers.make(type: "webhook", parameters: server.parameters(token: "wrong", ["retries": 3]), context: context)
        let before = server.requests.count
        #expect(throws: PowerError.self) { try retrying.perform(.off) }
        #expect(server.requests.count == before + 1)
    }

    @Test func nobodyListeningIsUnreachable() throws {
        let port = Scratch.freePort()
        let parameters = Scratch.json(["on_url": "http://127.0.0.1:\(port)/on", "retries": 1, "timeout": 2])
        let driver = try PowerDrivers.make(type: "webhook", parameters: parameters, context: context)
        do {
            _ = try driver.perform(.on)
            Issue.record("nobody answered, yet it succeeded")
        } catch let error as PowerError {
            #expect(error.kind == .unreachable)
            #expect(error.message.contains("127.0.0.1 unreachable"))
        }
    }

    @Test func aServerThatNeverAnswersTimesOut() throws {
        let silent = SilentListener()
        let parameters = Scratch.json(["on_url": "http://127.0.0.1:\(silent.port)/on", "retries": 0, "timeout": 1])
        let driver = try PowerDrivers.make(type: "webhook", parameters: parameters, context: context)
        let started = Date()
        do {
            _ = try driver.perform(.on)
            Issue.record("a silent server answered")
        } catch let error as PowerError {
            #expect(error.kind == .unreachable)
        }
        // Bounded by the timeout, not by the peer: far less than a hang.
        #expect(Date().timeIntervalSince(started) < 30)
    }

    @Test func aSelfSignedCertificateIsRefusedUnlessAccepted() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try start(directory, tls: true)
        defer { server.peer.stop() }
        let strict = try PowerDrivers.make(type: "webhook", parameters: server.parameters(token: "s3cret"), context: context)
        do {
            _ = try strict.perform(.on)
            Issue.record("an untrusted certificate was accepted")
        } catch let error as PowerError {
            #expect(error.kind == .certificate)
            #expect(error.message.contains("verify_tls"))
        }
        let lenient = try PowerDrivers.make(type: "webhook", parameters: server.parameters(token: "s3cret", ["verify_tls": false]), context: context)
        #expect(try lenient.perform(.on).state == .on)
        #expect(try lenient.perform(.query).state == .on)
    }

    @Test func templatesNameOnlyKnownValues() {
        let parameters = Scratch.json(["on_url": "http://127.0.0.1:1/{{serial}}"])
        #expect(throws: PowerError.self) { try PowerDrivers.validate(type: "webhook", parameters: parameters) }
        #expect(throws: PowerError.self) { try PowerDrivers.validate(type: "webhook", parameters: Scratch.json(["on_url": "file:///etc/passwd"])) }
        #expect(throws: PowerError.self) { try PowerDrivers.validate(type: "webhook", parameters: Scratch.json([:])) }
        #expect(throws: PowerError.self) {
            try PowerDrivers.validate(type: "webhook", parameters: Scratch.json(["on_url": "http://x/", "on_pattern": "(unclosed"]))
        }
    }
}
