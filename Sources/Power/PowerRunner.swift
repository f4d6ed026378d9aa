import Foundation
import Synchronization

/// Runs power calls for one rack with at most `limit` at once: a rack in front of hundreds of
/// BMCs must not open hundreds of sessions when the region asks for a whole row at once (BMCs
/// are small computers, and the management network is often thin). Calls beyond the limit wait.
public final class PowerRunner: Sendable {
    public let limit: Int
    private let slots: DispatchSemaphore
    private let busy = Atomic<Int>(0)
    private let highWater = Atomic<Int>(0)

    public init(limit: Int) {
        self.limit = max(1, limit)
        slots = DispatchSemaphore(value: self.limit)
    }

    /// One request as the region sends it.
    public struct Request: Sendable, Codable, Equatable {
        public var id: Int64
        public var action: PowerAction
        public var bootPXE: Bool
        public var powerType: String
        /// The decrypted parameters, as JSON text (held in memory only for the call).
        public var parameters: String
        public var context: PowerContext

        public init(id: Int64, action: PowerAction, bootPXE: Bool, powerType: String, parameters: String, context: PowerContext) {
            self.id = id
            self.action = action
            self.bootPXE = bootPXE
            self.powerType = powerType
            self.parameters = parameters
            self.context = context
        }

        enum CodingKeys: String, CodingKey {
            case id, action, parameters, context
            case bootPXE = "boot_pxe"
            case powerType = "power_type"
        }
    }

    /// What the rack reports back.
    public struct Result: Sendable, Codable, Equatable {
        public var id: Int64
        public var ok: Bool
        public var state: PowerState?
        public var message: String
        /// The failure's class (`PowerError.Kind`), when it failed.
        public var error: PowerError.Kind?

        public init(id: Int64, ok: Bool, state: PowerState?, message: String, error: PowerError.Kind?) {
            self.id = id
            self.ok = ok
            self.state = state
            self.message = message
            self.error = error
        }
    }

    /// How many calls are running now.
    public var running: Int { busy.load(ordering: .relaxed) }

    /// The most calls that ever ran at once (for metrics, and the test that holds the limit).
    public var mostAtOnce: Int { highWater.load(ordering: .relaxed) }

    /// Performs one request, waiting for a free slot first.
    public func run(_ request: Request) -> Result {
        slots.wait()
        let now = busy.add(1, ordering: .relaxed).newValue
        highWater.max(now, ordering: .relaxed)
        defer {
            busy.subtract(1, ordering: .relaxed)
            slots.signal()
        }
        return Self.perform(request)
    }

    /// Performs one request now: the next boot first when asked (so the power-on boots from the
    /// network), then the action.
    public static func perform(_ request: Request) -> Result {
        do {
            let driver = try PowerDrivers.make(type: request.powerType, parameters: Array(request.parameters.utf8), context: request.context)
            if request.bootPXE && request.action != .query && request.action != .off && request.action != .softOff {
                try driver.setNextBootPXE()
            }
            let outcome = try driver.perform(request.action)
            return Result(id: request.id, ok: true, state: outcome.state, message: outcome.message, error: nil)
        } catch {
            let failure = PowerError.from(error)
            return Result(id: request.id, ok: false, state: nil, message: failure.message, error: failure.kind)
        }
    }
}
