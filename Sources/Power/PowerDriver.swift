import Foundation

/// One machine's BMC, driven by a rack. Calls block (the rack runs them on worker threads of
/// its own, never on a ring) and are bounded by the driver's timeout: an unreachable BMC is an
/// error after the timeout, never a hang.
public protocol PowerDriver: Sendable {
    /// Performs `action`; `.query` changes nothing.
    func perform(_ action: PowerAction) throws -> PowerOutcome
    /// Makes the next boot (only the next) a network boot.
    func setNextBootPXE() throws
}

/// What the region says about the machine, for templates (`{{system_id}}`) and messages.
public struct PowerContext: Sendable, Codable, Equatable {
    public var systemID: String
    public var hostname: String

    public init(systemID: String, hostname: String) {
        self.systemID = systemID
        self.hostname = hostname
    }

    enum CodingKeys: String, CodingKey {
        case systemID = "system_id"
        case hostname
    }
}

/// The drivers by power type, and what every driver shares: parameters, timeouts, retries.
public enum PowerDrivers {
    /// The power types a machine may have (the region's `machines_power_type_known`).
    public static let types = ["manual", "ipmi", "redfish", "webhook", "qmp"]

    /// A driver for `type` over its JSON parameters; bad parameters are `.parameters` errors.
    /// (Every driver throws `PowerError`; the signatures say `throws` only because typed throws
    /// through closures still trips the compiler.)
    public static func make(type: String, parameters: [UInt8], context: PowerContext) throws -> any PowerDriver {
        let data = Data(parameters.isEmpty ? Array("{}".utf8) : parameters)
        switch type {
        case "manual": return ManualPower(context: context)
        case "qmp": return try QMPPower(decode(QMPPower.Parameters.self, data))
        case "webhook": return try WebhookPower(decode(WebhookPower.Parameters.self, data), context: context)
        case "redfish": return try RedfishPower(decode(RedfishPower.Parameters.self, data))
        case "ipmi": return try IPMIPower(decode(IPMIPower.Parameters.self, data))
        default: throw PowerError(.parameters, "unknown power type '\(type)' (one of: \(types.joined(separator: ", ")))")
        }
    }

    /// Checks parameters without calling anything: what the region does before storing them.
    public static func validate(type: String, parameters: [UInt8]) throws {
        _ = try make(type: type, parameters: parameters, context: PowerContext(systemID: "validate", hostname: "validate"))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
            throw PowerError(.parameters, "power parameters must be a JSON object")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw PowerError(.parameters, "power parameter '\(key.stringValue)' is required")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw PowerError(.parameters, "power parameter '\(field)': \(context.debugDescription)")
        } catch {
            throw PowerError(.parameters, "power parameters are not a JSON object of the expected fields: \(error)")
        }
    }

    /// Runs `body` up to `1 + retries` times while it fails with a transient error, pausing
    /// `pause` seconds between tries.
    public static func withRetries<T>(_ retries: Int, pause: Double = 1, _ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch {
                let failure = PowerError.from(error)
                attempt += 1
                guard failure.isTransient, attempt <= retries else { throw failure }
                Thread.sleep(forTimeInterval: pause)
            }
        }
    }
}

/// Every driver's knobs for how long and how often.
struct PowerTiming: Sendable {
    /// Seconds one call to the BMC may take.
    var timeout: Double
    /// Further tries after a transient failure.
    var retries: Int

    static let defaultTimeout: Double = 10
    static let defaultRetries = 2

    init(timeout: Double?, retries: Int?) throws {
        self.timeout = timeout ?? Self.defaultTimeout
        self.retries = retries ?? Self.defaultRetries
        guard self.timeout > 0, self.timeout <= 300 else { throw PowerError(.parameters, "timeout must be between 0 and 300 seconds") }
        guard (0...10).contains(self.retries) else { throw PowerError(.parameters, "retries must be between 0 and 10") }
    }
}

/// `manual`: nothing to drive; the event tells the operator what to do.
struct ManualPower: PowerDriver {
    let context: PowerContext

    func perform(_ action: PowerAction) throws -> PowerOutcome {
        if action == .query { return PowerOutcome(state: .unknown, message: "manual power: the state is not known") }
        throw PowerError(.manual, "manual power: \(Self.instruction(action)) \(context.hostname) (\(context.systemID)) by hand")
    }

    func setNextBootPXE() throws {
        throw PowerError(.manual, "manual power: set \(context.hostname) (\(context.systemID)) to boot from the network by hand")
    }

    static func instruction(_ action: PowerAction) -> String {
        switch action {
        case .on: "power on"
        case .off: "power off"
        case .cycle: "power cycle"
        case .softOff: "shut down"
        case .query: "check"
        }
    }
}
