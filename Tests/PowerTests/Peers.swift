import Foundation
import Glibc
import Synchronization

/// A real peer the power tests talk to (QEMU, a Python HTTP server, sushy-tools, ipmi_sim),
/// started by the test and stopped by its PID.
final class Peer: @unchecked Sendable {
    let process = Process()
    let log: String

    /// `Tests/integration/power_peers`, next to the pytest tests that use the same peers.
    static let peersDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("integration/power_peers").path

    init(_ program: String, _ arguments: [String], log: String) throws {
        self.log = log
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<50 where process.isRunning { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Waits (up to 30 s) until `ready` holds.
    func wait(for what: String, _ ready: () -> Bool) throws {
        for _ in 0..<300 {
            if ready() { return }
            guard process.isRunning else { throw PeerError("\(what) exited: \(output)") }
            usleep(100_000)
        }
        throw PeerError("\(what) not ready after 30 s: \(output)")
    }
}

struct PeerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum Scratch {
    /// A fresh directory under /tmp, removed by the caller.
    static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "rackplane-power-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Ports handed out in this process: the kernel may offer a released port again, and two
    /// peers on one port would make two tests talk to one emulator.
    private static let handedOut = Mutex<Set<UInt16>>([])

    /// A port nothing listens on now (bound, then released) and never handed out before here,
    /// for `type` SOCK_STREAM or SOCK_DGRAM.
    static func freePort(_ type: Int32 = Int32(SOCK_STREAM.rawValue)) -> UInt16 {
        while true {
            let port = probePort(type)
            if handedOut.withLock({ $0.insert(port).inserted }) { return port }
        }
    }

    private static func probePort(_ type: Int32) -> UInt16 {
        let fd = socket(AF_INET, type, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return UInt16(bigEndian: address.sin_port)
    }

    /// True once something accepts TCP connections on 127.0.0.1:port.
    static func accepts(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// A self-signed certificate and key for 127.0.0.1 (openssl req), as (certificate, key) paths.
    static func selfSignedCertificate(in directory: String) throws -> (String, String) {
        let certificate = directory + "/bmc.crt", key = directory + "/bmc.key"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw PeerError("openssl req failed") }
        return (certificate, key)
    }

    static func json(_ object: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data())
    }
}

/// A TCP listener that accepts nothing and answers nothing: a BMC that has hung.
final class SilentListener {
    let fd: Int32
    let port: UInt16

    init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 16)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }
}
