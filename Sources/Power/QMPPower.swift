import Foundation
import Glibc

/// `qmp`: QEMU's machine protocol over a unix socket (`-qmp unix:PATH,server,nowait`), for labs
/// and CI. QEMU has no power switch of its own, so "off" is stopped vCPUs after a reset (the
/// guest starts afresh on "on") and "on" is `cont`:
///
/// | action | commands |
/// |---|---|
/// | on | `cont` (from `-S`'s prelaunch, a stop, or a guest shutdown with `-no-shutdown`, after `system_reset`) |
/// | off | `stop`, `system_reset` (or `quit` with `"off": "quit"`, ending QEMU) |
/// | cycle | `system_reset`, `cont` |
/// | soft-off | `system_powerdown` (the ACPI power button) |
/// | query | `query-status`: `running` is on, anything else off; no QEMU at the socket is off after `quit` |
///
/// A lab guest boots from the network through `-boot n` (or `bootindex`), so the next-boot
/// setting has nothing to change and succeeds.
struct QMPPower: PowerDriver {
    struct Parameters: Decodable, Sendable {
        /// Path of QEMU's QMP unix socket.
        var socket: String
        /// "reset" (default): off stops the vCPUs after a reset; "quit": off ends QEMU.
        var off: String?
        var timeout: Double?
        var retries: Int?
    }

    let socketPath: String
    let quitOnOff: Bool
    let timing: PowerTiming

    init(_ parameters: Parameters) throws {
        guard parameters.socket.hasPrefix("/"), parameters.socket.utf8.count < 108 else {
            throw PowerError(.parameters, "socket must be an absolute path under 108 bytes")
        }
        guard [nil, "reset", "quit"].contains(parameters.off) else { throw PowerError(.parameters, "off must be reset or quit") }
        socketPath = parameters.socket
        quitOnOff = parameters.off == "quit"
        timing = try PowerTiming(timeout: parameters.timeout, retries: parameters.retries)
    }

    func perform(_ action: PowerAction) throws -> PowerOutcome {
        try PowerDrivers.withRetries(timing.retries) {
            if action == .query, quitOnOff, !FileManager.default.fileExists(atPath: socketPath) {
                return PowerOutcome(state: .off, message: "qmp: no QEMU at \(socketPath) (quit)")
            }
            let session = try QMPSession(path: socketPath, timeout: timing.timeout)
            defer { session.close() }
            let status = try session.status()
            switch action {
            case .query:
                return PowerOutcome(state: status == "running" ? .on : .off, message: "qmp: status \(status)")
            case .on:
                if status == "shutdown" || status == "guest-panicked" { try session.execute("system_reset") }
                if status != "running" { try session.execute("cont") }
                return PowerOutcome(state: .on, message: "qmp: was \(status), now running")
            case .off:
                if quitOnOff {
                    do {
                        try session.execute("quit")
                    } catch let error as PowerError where error.kind == .unreachable {
                        // QEMU may close the socket before its answer leaves: it quit all the same.
                    }
                    return PowerOutcome(state: .off, message: "qmp: QEMU quit")
                }
                if status == "running" { try session.execute("stop") }
                try session.execute("system_reset")
                return PowerOutcome(state: .off, message: "qmp: stopped and reset (was \(status))")
            case .cycle:
                try session.execute("system_reset")
                if status != "running" { try session.execute("cont") }
                return PowerOutcome(state: .on, message: "qmp: reset (was \(status))")
            case .softOff:
                try session.execute("system_powerdown")
                return PowerOutcome(state: status == "running" ? .on : .off, message: "qmp: ACPI power button pressed (was \(status))")
            }
        }
    }

    func setNextBootPXE() throws {}
}

/// One QMP conversation: greeting, `qmp_capabilities`, then commands, each answer read past
/// any asynchronous events. Every read and write is bounded by the timeout.
final class QMPSession {
    let fd: Int32
    let deadline: Date
    let path: String
    private var buffer: [UInt8] = []

    init(path: String, timeout: Double) throws {
        self.path = path
        deadline = Date(timeIntervalSinceNow: timeout)
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw PowerError(.failed, "qmp: socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes.prefix(raw.count - 1))
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw PowerError(.unreachable, "qmp: no QEMU at \(path): \(reason)")
        }
        do {
            let greeting = try readMessage()
            guard greeting["QMP"] != nil else { throw PowerError(.failed, "qmp: \(path) did not greet with QMP") }
            try execute("qmp_capabilities")
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    func close() { Glibc.close(fd) }

    /// `query-status`'s `status`: running, paused, prelaunch, shutdown, …
    func status() throws -> String {
        let answer = try execute("query-status")
        guard let object = answer as? [String: Any], let status = object["status"] as? String else {
            throw PowerError(.failed, "qmp: query-status answered without a status")
        }
        return status
    }

    @discardableResult
    func execute(_ command: String) throws -> Any {
        try write(Array(#"{"execute":"\#(command)"}"#.utf8) + [0x0A])
        while true {
            let message = try readMessage()
            if message["event"] != nil { continue }
            if let error = message["error"] as? [String: Any] {
                throw PowerError(.failed, "qmp: \(command): \(error["desc"] as? String ?? "error")")
            }
            if let value = message["return"] { return value }
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw PowerError(.unreachable, "qmp: \(path): send: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    private func readMessage() throws -> [String: Any] {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    throw PowerError(.failed, "qmp: \(path) sent something that is not JSON")
                }
                return object
            }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw PowerError(.unreachable, "qmp: \(path): no answer within the timeout") }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(remaining * 1000) + 1)
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { throw PowerError(.unreachable, "qmp: \(path): no answer within the timeout") }
            var chunk = [UInt8](repeating: 0, count: 16_384)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw PowerError(.unreachable, "qmp: \(path) closed the connection") }
            buffer += chunk[0..<n]
            guard buffer.count < 1 << 20 else { throw PowerError(.failed, "qmp: message over 1 MiB") }
        }
    }
}
