/// A failure reported by libpq or by the server, with the fields the API needs to explain it:
/// the SQLSTATE (`23505` unique violation, …) and the name of the constraint that refused a row.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Could not connect, or the connection broke.
        case connection
        /// The server refused a statement.
        case statement
    }

    public var kind: Kind
    public var message: String
    /// Five characters (`23505`); nil when the failure never reached the server.
    public var sqlState: String?
    public var constraint: String?
    public var detail: String?
    public var table: String?
    public var column: String?

    public init(
        kind: Kind, message: String, sqlState: String? = nil, constraint: String? = nil,
        detail: String? = nil, table: String? = nil, column: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.constraint = constraint
        self.detail = detail
        self.table = table
        self.column = column
    }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += ": \(detail)" }
        return text
    }
}

/// SQLSTATE codes the region reacts to (PostgreSQL manual, appendix A).
public enum SQLState {
    public static let uniqueViolation = "23505"
    public static let exclusionViolation = "23P01"
    public static let checkViolation = "23514"
    public static let foreignKeyViolation = "23503"
    public static let notNullViolation = "23502"
    /// Bad text for a typed value: `'x'::inet`.
    public static let invalidTextRepresentation = "22P02"
    public static let invalidParameterValue = "22023"
    public static let numericOutOfRange = "22003"
    public static let stringDataRightTruncation = "22001"
    public static let invalidDatetimeFormat = "22007"
    public static let datetimeFieldOverflow = "22008"
    public static let characterNotInRepertoire = "22021"
    public static let untranslatableCharacter = "22P05"
    public static let invalidBinaryRepresentation = "22P03"
}
