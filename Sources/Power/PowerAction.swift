/// What the region may ask a rack to do to a machine's power.
public enum PowerAction: String, Sendable, Codable, CaseIterable {
    case on
    case off
    case cycle
    /// An orderly shutdown: ACPI power button, Redfish GracefulShutdown, IPMI soft.
    case softOff = "soft-off"
    case query
}

/// A machine's power as its BMC reports it.
public enum PowerState: String, Sendable, Codable, CaseIterable {
    case on
    case off
    /// The driver cannot tell (manual power, a webhook without a query URL).
    case unknown
}

/// Why a power call failed, in classes an operator can act on: the event names the class.
public struct PowerError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// Nothing answered: connection refused, no route, no answer within the timeout.
        case unreachable
        /// The BMC answered and refused the credentials.
        case authentication
        /// The TLS certificate is not trusted (`verify_tls: false` accepts a self-signed one).
        case certificate
        /// The power parameters are missing something or malformed (a 4xx at the region).
        case parameters
        /// The driver cannot do this (a webhook with no URL for it).
        case unsupported
        /// `manual` power: a person has to do it.
        case manual
        /// The BMC answered with an error.
        case failed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }

    /// Worth another try: the BMC may answer next time. Refused credentials or bad parameters
    /// will not change by retrying (and retrying credentials can lock an account out).
    public var isTransient: Bool { kind == .unreachable || kind == .failed }
}

/// What one power call did.
public struct PowerOutcome: Sendable, Equatable, Codable {
    /// The state after the action (queried, or what the action leads to).
    public var state: PowerState
    /// A line for the event log (no secrets).
    public var message: String

    public init(state: PowerState, message: String) {
        self.state = state
        self.message = message
    }
}

extension PowerError {
    /// Any error as a `PowerError` (drivers throw only these; anything else is a bug, reported as failed).
    public static func from(_ error: any Error) -> PowerError {
        (error as? PowerError) ?? PowerError(.failed, "\(error)")
    }
}
