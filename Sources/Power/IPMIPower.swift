import Foundation
import Glibc

/// `ipmi`: IPMI 2.0 over LAN (RMCP+) through Debian's `ipmitool`, not a protocol stack of our
/// own. RMCP+ session set-up (RAKP with HMAC-SHA1/SHA256, the integrity and confidentiality
/// algorithms of each cipher suite) is where BMC firmware is most quirky; ipmitool has met
/// those quirks for twenty years, and MAAS drives it (or freeipmi) the same way. The cost is one
/// short process per call, which is nothing beside a BMC's own latency.
///
///     {"address": "10.0.0.5", "port": 623, "username": "ADMIN", "password": "…",
///      "interface": "lanplus", "cipher_suite": 3, "privilege": "ADMINISTRATOR",
///      "efi": false, "timeout": 10, "retries": 2}
///
/// The password reaches ipmitool in its environment (`-E`, `IPMI_PASSWORD`), never on the
/// command line where any local user could read it.
struct IPMIPower: PowerDriver {
    struct Parameters: Decodable, Sendable {
        var address: String
        var port: Int?
        var username: String?
        var password: String?
        /// lanplus (IPMI 2.0, default) or lan (1.5).
        var interface: String?
        /// `-C`: 3 (default; HMAC-SHA1, AES-CBC-128) or what the BMC supports (17: SHA256).
        var cipher_suite: Int?
        /// `-L`: USER, OPERATOR or ADMINISTRATOR (default).
        var privilege: String?
        /// Boot device PXE with `options=efiboot`.
        var efi: Bool?
        var timeout: Double?
        var retries: Int?
    }

    let parameters: Parameters
    let timing: PowerTiming
    /// The program; tests may point elsewhere, `RACKPLANE_IPMITOOL` too.
    var program = ProcessInfo.processInfo.environment["RACKPLANE_IPMITOOL"] ?? "/usr/bin/ipmitool"

    init(_ parameters: Parameters) throws {
        guard !parameters.address.isEmpty, !parameters.address.hasPrefix("-"),
              parameters.address.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_[]".contains($0) }) else {
            throw PowerError(.parameters, "address must be a host name or an IP address")
        }
        guard (1...65535).contains(parameters.port ?? 623) else { throw PowerError(.parameters, "port must be 1-65535") }
        guard [nil, "lanplus", "lan"].contains(parameters.interface) else { throw PowerError(.parameters, "interface must be lanplus or lan") }
        guard (0...17).contains(parameters.cipher_suite ?? 3) else { throw PowerError(.parameters, "cipher_suite must be 0-17") }
        guard [nil, "USER", "OPERATOR", "ADMINISTRATOR"].contains(parameters.privilege?.uppercased()) else {
            throw PowerError(.parameters, "privilege must be USER, OPERATOR or ADMINISTRATOR")
        }
        if let user = parameters.username, user.hasPrefix("-") || user.utf8.count > 16 {
            throw PowerError(.parameters, "username must be at most 16 bytes and not start with -")
        }
        self.parameters = parameters
        timing = try PowerTiming(timeout: parameters.timeout, retries: parameters.retries)
    }

    func perform(_ action: PowerAction) throws -> PowerOutcome {
        try PowerDrivers.withRetries(timing.retries) {
            let status = try run(["chassis", "power", "status"])
            let state: PowerState = status.contains("is on") ? .on : (status.contains("is off") ? .off : .unknown)
            let command: String
            switch action {
            case .query: return PowerOutcome(state: state, message: "ipmi: \(status)")
            case .on: command = "on"
            case .off: command = "off"
            case .softOff: command = "soft"
            // Many BMCs refuse to cycle a machine that is off.
            case .cycle: command = state == .off ? "on" : "cycle"
            }
            let answer = try run(["chassis", "power", command])
            let after: PowerState = action == .on || action == .cycle ? .on : (action == .off ? .off : state)
            return PowerOutcome(state: after, message: "ipmi: \(answer) (was \(state.rawValue))")
        }
    }

    func setNextBootPXE() throws {
        _ = try PowerDrivers.withRetries(timing.retries) {
            try run(["chassis", "bootdev", "pxe"] + (parameters.efi == true ? ["options=efiboot"] : []))
        }
    }

    /// The arguments before the command: interface, host, credentials, cipher suite and ipmitool's
    /// own per-try timeout (it retries once more within our deadline).
    var connectionArguments: [String] {
        var arguments = ["-I", parameters.interface ?? "lanplus", "-H", parameters.address, "-p", String(parameters.port ?? 623)]
        if let user = parameters.username { arguments += ["-U", user] }
        // -v: ipmitool then says why a session failed (RAKP 2 HMAC invalid, unauthorized name),
        // which tells refused credentials from a BMC that is not there.
        arguments += ["-E", "-v"]
        if (parameters.interface ?? "lanplus") == "lanplus" { arguments += ["-C", String(parameters.cipher_suite ?? 3)] }
        arguments += ["-L", (parameters.privilege ?? "ADMINISTRATOR").uppercased()]
        arguments += ["-N", String(max(1, Int(timing.timeout / 2))), "-R", "1"]
        return arguments
    }

    /// Runs ipmitool; its trimmed standard output, or the error its standard error means.
    /// Killed at the timeout: an unreachable BMC costs the timeout, not ipmitool's own patience.
    func run(_ command: [String]) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw PowerError(.failed, "ipmi: \(program) is missing (Debian package ipmitool)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = connectionArguments + command
        var environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        environment["IPMI_PASSWORD"] = parameters.password ?? ""
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try process.run()
        } catch {
            throw PowerError(.failed, "ipmi: cannot run \(program): \(error)")
        }
        // Read both pipes while it runs, so a chatty ipmitool never blocks on a full pipe.
        let collected = CollectedOutput()
        let group = DispatchGroup()
        for (handle, isError) in [(output.fileHandleForReading, false), (errors.fileHandleForReading, true)] {
            group.enter()
            DispatchQueue.global().async {
                let data = handle.readDataToEndOfFile()
                collected.set(data, isError: isError)
                group.leave()
            }
        }
        var timedOut = false
        if finished.wait(timeout: .now() + timing.timeout + 1) == .timedOut {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
        }
        group.wait()
        let stdout = collected.text(isError: false)
        let stderr = collected.text(isError: true)
        if timedOut { throw PowerError(.unreachable, "ipmi: BMC \(parameters.address) did not answer within \(Int(timing.timeout)) s") }
        guard process.terminationStatus == 0 else { throw Self.classify(stderr, address: parameters.address) }
        return stdout
    }

    /// ipmitool's complaint as the class an operator acts on.
    static func classify(_ stderr: String, address: String) -> PowerError {
        let text = stderr.lowercased()
        let line = stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("Loading IANA PEN Registry") }.joined(separator: "; ")
        // RAKP is the second step of a session: the BMC answered and judged the credentials.
        let refused = ["rakp", "unauthorized name", "invalid user", "insufficient privilege", "invalid role", "integrity check"]
        if refused.contains(where: text.contains) {
            return PowerError(.authentication, "ipmi: BMC \(address) refused the credentials (\(line))")
        }
        // The first step (Get Channel Authentication Capabilities) went unanswered.
        if text.contains("unable to establish") || text.contains("no response") || text.contains("timeout") || text.contains("get auth capabilities") {
            return PowerError(.unreachable, "ipmi: BMC \(address) unreachable (\(line))")
        }
        return PowerError(.failed, "ipmi: BMC \(address): \(line.isEmpty ? "ipmitool failed" : line)")
    }
}

private final class CollectedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var output = Data()
    private var errors = Data()

    func set(_ data: Data, isError: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if isError { errors = data } else { output = data }
    }

    func text(isError: Bool) -> String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: isError ? errors : output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
