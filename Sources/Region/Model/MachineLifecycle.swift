/// A machine's life: New → Commissioning → Ready → Deploying → Deployed → Releasing → Ready,
/// and Broken from anywhere. Commissioning and Deploying end with the machine's own report
/// (`MachineReport`), or fail into Failed commissioning / Failed deployment — on a failed report
/// or when no report came in time (`LifecycleTimeouts`). Each state says what the machine boots
/// into, which is what the rack renders for it (`boot_purpose` in the tables).
public enum MachineStatus: String, Sendable, CaseIterable, Codable {
    case new
    case commissioning
    case ready
    case deploying
    case deployed
    case releasing
    case broken
    /// Commissioning reported failure, or did not report in time (MAAS's "Failed commissioning").
    case failedCommissioning = "failed_commissioning"
    /// Deploying reported failure, or did not report in time (MAAS's "Failed deployment").
    case failedDeployment = "failed_deployment"

    /// What the rack tells this machine to boot when it network-boots.
    public var bootPurpose: String {
        switch self {
        case .commissioning: "commission"
        case .deploying: "deploy"
        // Everything else boots its own disk: a machine is never reinstalled by accident.
        case .new, .ready, .deployed, .releasing, .broken, .failedCommissioning, .failedDeployment: "local"
        }
    }

    /// The states that wait for the machine's report, and the state each fails into.
    public var failureState: MachineStatus? {
        switch self {
        case .commissioning: .failedCommissioning
        case .deploying: .failedDeployment
        default: nil
        }
    }

    /// The state a successful report leads to from here.
    public var reportedState: MachineStatus? {
        switch self {
        case .commissioning: .ready
        case .deploying: .deployed
        default: nil
        }
    }

    /// How people read it ("Failed commissioning").
    public var label: String {
        switch self {
        case .failedCommissioning: "Failed commissioning"
        case .failedDeployment: "Failed deployment"
        default: rawValue.prefix(1).uppercased() + rawValue.dropFirst()
        }
    }
}

/// The operator's actions on a machine.
public enum MachineAction: String, Sendable, CaseIterable {
    case commission
    case deploy
    case release
    case markBroken = "mark-broken"
    case markFixed = "mark-fixed"
    /// The step in progress finished, said by an operator: what the machine's own report does
    /// (`POST /machines/{id}/report`), for machines that cannot report, and for releasing.
    case complete

    /// The state the action leads to from `status`, or nil when it is not allowed there.
    public func next(from status: MachineStatus) -> MachineStatus? {
        switch (self, status) {
        case (.commission, .new), (.commission, .ready), (.commission, .broken),
             (.commission, .failedCommissioning), (.commission, .failedDeployment): .commissioning
        case (.deploy, .ready): .deploying
        case (.release, .deployed), (.release, .deploying), (.release, .failedDeployment): .releasing
        case (.markBroken, let from) where from != .broken: .broken
        case (.markFixed, .broken): .ready
        case (.complete, .commissioning): .ready
        case (.complete, .deploying): .deployed
        case (.complete, .releasing): .ready
        default: nil
        }
    }

    /// The states the action is allowed from, for the 409 message.
    public var allowedFrom: [MachineStatus] { MachineStatus.allCases.filter { next(from: $0) != nil } }

    /// Whether the action starts a boot that reports back (a per-boot token, a power cycle).
    public var startsReportingBoot: Bool { self == .commission || self == .deploy }
}

/// What a machine's report does: `ok` moves Commissioning → Ready and Deploying → Deployed,
/// `failed` moves them to their failed state; in any other state a report is refused (409).
public enum MachineReport {
    public enum Outcome: String, Sendable, Codable {
        case ok
        case failed
    }

    /// The state after the report, or nil when `status` awaits no report.
    public static func next(from status: MachineStatus, outcome: Outcome) -> MachineStatus? {
        switch outcome {
        case .ok: status.reportedState
        case .failed: status.failureState
        }
    }
}

/// The timeout rule: a machine that has waited for its report longer than the timeout fails,
/// with the reason.
public enum LifecycleTimeout {
    /// The state a machine in `status` moves to when `waited` seconds exceed `timeout`, with
    /// the reason; nil when it stays.
    public static func verdict(status: MachineStatus, waited: Int, timeout: Int) -> (MachineStatus, String)? {
        guard let failed = status.failureState, waited >= timeout else { return nil }
        return (failed, reason(timeout: timeout))
    }

    public static func reason(timeout: Int) -> String { "no report within \(timeout) s" }
}
