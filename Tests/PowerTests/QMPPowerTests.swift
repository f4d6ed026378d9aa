import Foundation
import Glibc
import Power
import Testing

/// The qmp driver against a real QEMU (`-machine none`: a QMP endpoint with nothing to boot).
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-x86_64"), "qemu-system-x86 is not installed"))
struct QMPPowerTests {
    let context = PowerContext(systemID: "abc123", hostname: "node1")

    func qemu(_ directory: String) throws -> (Peer, String) {
        let socket = directory + "/qmp.sock"
        // -S: the machine starts "off" (prelaunch) until power on.
        let peer = try Peer("/usr/bin/qemu-system-x86_64",
                            ["-qmp", "unix:\(socket),server,nowait", "-nographic", "-nodefaults", "-machine", "none", "-S", "-display", "none"],
                            log: directory + "/qemu.log")
        try peer.wait(for: "qemu") { FileManager.default.fileExists(atPath: socket) }
        return (peer, socket)
    }

    @Test func onOffCycleAndQueryFollowQEMUsStatus() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (peer, socket) = try qemu(directory)
        defer { peer.stop() }
        let driver = try PowerDrivers.make(type: "qmp", parameters: Scratch.json(["socket": socket]), context: context)

        #expect(try driver.perform(.query).state == .off)
        #expect(try driver.perform(.on).state == .on)
        #expect(try driver.perform(.query).state == .on)
        #expect(try driver.perform(.cycle).state == .on)
        #expect(try driver.perform(.query).state == .on)
        #expect(try driver.perform(.off).state == .off)
        #expect(try driver.perform(.query).state == .off)
        // Off twice is still off; on brings it back.
        #expect(try driver.perform(.off).state == .off)
        #expect(try driver.perform(.on).state == .on)
        // The ACPI button reaches QEMU (there is no guest to act on it here).
        _ = try driver.perform(.softOff)
        try driver.setNextBootPXE()
    }

    @Test func offByQuitEndsQEMUAndQueriesOffAfterwards() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (peer, socket) = try qemu(directory)
        defer { peer.stop() }
        let driver = try PowerDrivers.make(type: "qmp", parameters: Scratch.json(["socket": socket, "off": "quit"]), context: context)
        #expect(try driver.perform(.on).state == .on)
        #expect(try driver.perform(.off).state == .off)
        peer.process.waitUntilExit()
        #expect(peer.process.terminationStatus == 0)
        // QEMU removes its socket as it quits.
        #expect(try driver.perform(.query).state == .off)
    }

    @Test func noQEMUAtTheSocketIsUnreachable() throws {
        let driver = try PowerDrivers.make(type: "qmp", parameters: Scratch.json(["socket": "/tmp/rackplane-no-such-qmp.sock", "retries": 0]),
                                           context: context)
        #expect(throws: PowerError.self) { try driver.perform(.query) }
        do {
            _ = try driver.perform(.on)
        } catch let error as PowerError {
            #expect(error.kind == .unreachable)
            #expect(error.message.contains("no QEMU at /tmp/rackplane-no-such-qmp.sock"))
        }
    }

    @Test func aSocketThatNeverGreetsTimesOut() throws {
        let directory = try Scratch.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/silent.sock"
        // Listening but never accepting: connect succeeds, no greeting ever comes.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        listen(fd, 4)
        let driver = try PowerDrivers.make(type: "qmp", parameters: Scratch.json(["socket": path, "timeout": 0.5, "retries": 0]), context: context)
        do {
            _ = try driver.perform(.query)
            Issue.record("a silent socket answered")
        } catch let error as PowerError {
            #expect(error.kind == .unreachable)
            #expect(error.message.contains("within the timeout"))
        }
    }

    @Test func badParametersAreRefusedBeforeAnyCall() {
        for parameters: [String: Any] in [[:], ["socket": "relative.sock"], ["socket": "/tmp/x", "off": "explode"],
                                           ["socket": "/tmp/x", "timeout": 0], ["socket": 7]] {
            do {
                try PowerDrivers.validate(type: "qmp", parameters: Scratch.json(parameters))
                Issue.record("accepted \(parameters)")
            } catch let error as PowerError {
                #expect(error.kind == .parameters)
            } catch {
                Issue.record("\(error)")
            }
        }
        #expect(throws: PowerError.self) { try PowerDrivers.validate(type: "telnet", parameters: Array("{}".utf8)) }
        #expect(throws: PowerError.self) { try PowerDrivers.validate(type: "qmp", parameters: Array("[1]".utf8)) }
    }
}
