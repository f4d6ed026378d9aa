import Foundation
import Power
import Testing

/// Whether sushy-tools (and its bcrypt) import.
enum SushyEmulator {
    static let installed: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sushy_tools.emulator.main, bcrypt"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()
}

/// The redfish driver against sushy-tools' Redfish emulator (PyPI `sushy-tools`, fake driver),
/// over HTTPS with a self-signed certificate and basic auth.
@Suite(.enabled(if: SushyEmulator.installed, "sushy-tools is not installed (pip install sushy-tools)"))
struct RedfishPowerTests {
    let context = PowerContext(systemID: "r3dfsh", hostname: "node1")

    func emulator(_ directory: String) throws -> (Peer, UInt16) {
        let port = Scratch.freePort()
        let (certificate, key) = try Scratch.selfSignedCertificate(in: directory)
        let peer = try Peer("/usr/bin/env", ["python3", Peer.peersDirectory + "/redfish_peer.py", "--port", String(port), "--user", "admin",
                                             "--password", "s3cret", "--dir", directory, "--cert", certificate, "--key", key],
                            log: directory + "/sushy.log")
        try peer.wait(for: "sushy-emulator") { Scratch.accepts(port) }
        return (peer, port)
    }

    func parameters(_ port: UInt16, password: String = "s3cret", _ extra: [String: Any] = [:]) -> [UInt8] {
        var parameters: [String: Any] = ["address": "https://127.0.0.1:\(port)", "username": "admin", "password": password,
                                         "verify_tls": false, "retries": 0, "timeout": 10]
        parameters.merge(extra) { $1 }
        return Scratch.json(parameters)
    }

    @Test func resetActionsAndPowerStateAndAOneTimePXEBoot() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (peer, port) = try emulator(directory)
        defer { peer.stop() }
        let driver = try PowerDrivers.make(type: "redfish", parameters: parameters(port), context: context)

        // The emulator, like a real BMC, applies a power change a few seconds after accepting it.
        func settles(at state: PowerState) throws -> Bool {
            for _ in 0..<60 {
                if try driver.perform(.query).state == state { return true }
                usleep(500_000)
            }
            return false
        }
        let first = try driver.perform(.query)
        #expect(first.state == .off, "\(first)")
        try driver.setNextBootPXE()
        #expect(try driver.perform(.on).state == .on)
        #expect(try settles(at: .on))
        #expect(try driver.perform(.cycle).state == .on)
        #expect(try settles(at: .on))
        #expect(try driver.perform(.softOff).state == .on)
        #expect(try settles(at: .off))
        #expect(try driver.perform(.on).state == .on)
        #expect(try settles(at: .on))
        #expect(try driver.perform(.off).state == .off)
        #expect(try settles(at: .off))

        // The override is visible on the system, as the BMC keeps it.
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        check.arguments = ["-sk", "-u", "admin:s3cret", "https://127.0.0.1:\(port)/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a1ef094"]
        let pipe = Pipe()
        check.standardOutput = pipe
        try check.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        check.waitUntilExit()
        let system = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let boot = system?["Boot"] as? [String: Any]
        #expect(boot?["BootSourceOverrideTarget"] as? String == "Pxe")
        // (The emulator's template always shows BootSourceOverrideEnabled "Continuous", whatever is sent.)
    }

    @Test func sessionAuthLogsInAndOutAroundEachCall() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (peer, port) = try emulator(directory)
        defer { peer.stop() }
        let driver = try PowerDrivers.make(type: "redfish", parameters: parameters(port, ["auth": "session"]), context: context)
        #expect(try driver.perform(.query).state == .off)
        try driver.setNextBootPXE()
        #expect(try driver.perform(.on).state == .on)
        // Three calls, three sessions, each closed (a BMC has only a few session slots).
        let log = (try? String(contentsOfFile: directory + "/sessions", encoding: .utf8)) ?? ""
        #expect(log.split(separator: "\n") == ["open 1", "close 1", "open 2", "close 2", "open 3", "close 3"])

        let refused = try PowerDrivers.make(type: "redfish", parameters: parameters(port, password: "guess", ["auth": "session"]), context: context)
        do {
            _ = try refused.perform(.query)
            Issue.record("a session opened with a wrong password")
        } catch let error as PowerError {
            #expect(error.kind == .authentication)
        }
    }

    @Test func wrongCredentialsAreRefusedAndNotRetried() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (peer, port) = try emulator(directory)
        defer { peer.stop() }
        let driver = try PowerDrivers.make(type: "redfish", parameters: parameters(port, password: "guess", ["retries": 3]), context: context)
        do {
            _ = try driver.perform(.on)
            Issue.record("wrong credentials powered the machine on")
        } catch let error as PowerError {
            #expect(error.kind == .authentication)
            #expect(error.message.contains("refused the credentials"))
            #expect(!error.message.contains("guess"))
        }
    }

    @Test func theSelfSignedCertificateNeedsVerifyTLSOff() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (peer, port) = try emulator(directory)
        defer { peer.stop() }
        let driver = try PowerDrivers.make(type: "redfish", parameters: parameters(port, ["verify_tls": true]), context: context)
        do {
            _ = try driver.perform(.query)
            Issue.record("an untrusted certificate was accepted")
        } catch let error as PowerError {
            #expect(error.kind == .certificate)
        }
    }

    @Test func anUnreachableBMCFailsWithinTheTimeout() throws {
        let silent = SilentListener()
        let driver = try PowerDrivers.make(type: "redfish", parameters: parameters(silent.port, ["timeout": 1, "retries": 1]), context: context)
        let started = Date()
        do {
            _ = try driver.perform(.query)
            Issue.record("a silent BMC answered")
        } catch let error as PowerError {
            #expect(error.kind == .unreachable)
        }
        #expect(Date().timeIntervalSince(started) < 30)
        let closed = try PowerDrivers.make(type: "redfish", parameters: parameters(Scratch.freePort()), context: context)
        #expect(throws: PowerError.self) { try closed.perform(.on) }
    }
}
