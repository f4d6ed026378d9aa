import Logging

/// The rack's logger: swift-log underneath, one label per rack. Nothing on the per-packet path
/// logs; these are start-up, reload and failure messages.
public struct RackLog: Sendable {
    public let logger: Logger

    public init(label: String = "rackplane.rack", level: Logger.Level = .info) {
        var logger = Logger(label: label)
        logger.logLevel = level
        self.logger = logger
    }

    public func info(_ message: String) { logger.info("\(message)") }
    public func warning(_ message: String) { logger.warning("\(message)") }
    public func error(_ message: String) { logger.error("\(message)") }
}
