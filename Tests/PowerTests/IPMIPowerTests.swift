import Foundation
import Power
import Testing

/// The ipmi driver (ipmitool) against OpenIPMI's `ipmi_sim` (Debian `openipmi`), whose chassis
/// power and boot device are files the test reads.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ipmi_sim") && FileManager.default.isExecutableFile(atPath: "/usr/bin/ipmitool"),
                "ipmitool and openipmi (ipmi_sim) are not installed"))
struct IPMIPowerTests {
    let context = PowerContext(systemID: "1pm1x", hostname: "node1")

    func simulator(_ directory: String) throws -> (Peer, UInt16) {
        let port = Scratch.freePort(Int32(SOCK_DGRAM.rawValue))
        let peer = try Peer("/bin/sh", [Peer.peersDirectory + "/ipmi_peer.sh", directory, String(port), "admin", "s3cret"],
                            log: directory + "/ipmi_sim.log")
        // ipmi_sim reads its chassis state through the script as soon as it runs.
        try peer.wait(for: "ipmi_sim") { FileManager.default.fileExists(atPath: directory + "/bmc.emu") }
        usleep(300_000)
        return (peer, port)
    }

    func parameters(_ port: UInt16, password: String = "s3cret", _ extra: [String: Any] = [:]) -> [UInt8] {
        var parameters: [String: Any] = ["address": "127.0.0.1", "port": Int(port), "username": "admin", "password": password,
                                         "cipher_suite": 3, "retries": 1, "timeout": 4]
        parameters.merge(extra) { $1 }
        return Scratch.json(parameters)
    }

    func file(_ directory: String, _ name: String) -> String {
        ((try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func powerAndBootDeviceReachTheChassis() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (peer, port) = try simulator(directory)
        defer { peer.stop() }
        let driver = try PowerDrivers.make(type: "ipmi", parameters: parameters(port), context: context)

        #expect(try driver.perform(.query).state == .off)
        try driver.setNextBootPXE()
        #expect(file(directory, "boot") == "pxe")
        #expect(try driver.perform(.on).state == .on)
        #expect(file(directory, "power") == "1")
        #expect(try driver.perform(.query).state == .on)
        #expect(try driver.perform(.cycle).state == .on)
        #expect(try driver.perform(.off).state == .off)
        #expect(file(directory, "power") == "0")
        #expect(try driver.perform(.query).state == .off)
        // A machine that is off is powered on by "cycle" (BMCs refuse to cycle it).
        #expect(try driver.perform(.cycle).state == .on)
        #expect(file(directory, "power") == "1")
        // Soft-off is the BMC's ACPI request: accepted (ipmi_sim has no guest to act on it).
        #expect(try driver.perform(.softOff).message.contains("Soft"))
    }

    @Test func wrongPasswordOrUserIsAnAuthenticationError() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (peer, port) = try simulator(directory)
        defer { peer.stop() }
        for extra: [String: Any] in [[:], ["username": "nobody"]] {
            let driver = try PowerDrivers.make(type: "ipmi", parameters: parameters(port, password: "guess", extra), context: context)
            do {
                _ = try driver.perform(.on)
                Issue.record("wrong credentials powered the machine on")
            } catch let error as PowerError {
                #expect(error.kind == .authentication, "\(error)")
                #expect(!error.message.contains("guess"))
            }
        }
        #expect(file(directory, "power") == "0")
    }

    @Test func noBMCIsUnreachableWithinTheTimeout() throws {
        let port = Scratch.freePort(Int32(SOCK_DGRAM.rawValue))
        let driver = try PowerDrivers.make(type: "ipmi", parameters: parameters(port, ["timeout": 2, "retries": 0]), context: context)
        let started = Date()
        do {
            _ = try driver.perform(.query)
            Issue.record("nothing answered, yet it succeeded")
        } catch let error as PowerError {
            #expect(error.kind == .unreachable, "\(error)")
        }
        #expect(Date().timeIntervalSince(started) < 30)
    }

    @Test func parametersThatWouldBecomeOptionsAreRefused() {
        for parameters: [String: Any] in [["address": "-H"], ["address": "127.0.0.1", "username": "-Uroot"], ["address": "127.0.0.1", "cipher_suite": 99],
                                           ["address": "127.0.0.1", "interface": "open"], ["address": "a b"]] {
            #expect(throws: PowerError.self) { try PowerDrivers.validate(type: "ipmi", parameters: Scratch.json(parameters)) }
        }
    }
}
