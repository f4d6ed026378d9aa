/// A machine's life: New → Commissioning → Ready → Deploying → Deployed → Releasing → Ready,
/// and Broken from anywhere. Each state says what the machine boots into, which is what the
/// rack renders for it (`boot_purpose` in the tables).
public enum MachineStatus: String, Sendable, CaseIterable, Codable {
    case new
    case commissioning
    case ready
    case deploying
    case deployed
    case releasing
    case broken

    /// What the rack tells this machine to boot when it network-boots.
    public var bootPurpose: String {
        switch self {
        case .commissioning: "commission"
        case .deploying: "deploy"
        // Everything else boots its own disk: a machine is never reinstalled by accident.
        case .new, .ready, .deployed, .releasing, .broken: "local"
        }
    }
}

/// The operator's (and, later, the rack's) actions on a machine.
public enum MachineAction: String, Sendable, CaseIterable {
    case commission
    case deploy
    case release
    case markBroken = "mark-broken"
    case markFixed = "mark-fixed"
    /// The step in progress finished: commissioning, deploying or releasing. Until racks report
    /// it (a later slice), an operator or a test says so.
    case complete

    /// The state the action leads to from `status`, or nil when it is not allowed there.
    public func next(from status: MachineStatus) -> MachineStatus? {
        switch (self, status) {
        case (.commission, .new), (.commission, .ready), (.commission, .broken): .commissioning
        case (.deploy, .ready): .deploying
        case (.release, .deployed), (.release, .deploying): .releasing
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
}
