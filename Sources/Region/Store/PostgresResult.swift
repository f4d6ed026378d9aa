import CLibPQ

/// The rows of one statement, copied out of libpq's result (text format) so the `PGresult` can
/// be freed at once.
public struct PostgresResult: Sendable {
    public let columns: [String]
    public let rows: [PostgresRow]
    /// Rows inserted, updated or deleted (`PQcmdTuples`); 0 for statements that do not say.
    public let affectedRows: Int

    init(consuming result: OpaquePointer?, connection: OpaquePointer) throws(PostgresError) {
        let result = try Self.checked(result, connection: connection)
        defer { PQclear(result) }
        let columnCount = PQnfields(result)
        let names = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        var index: [String: Int] = [:]
        for (position, name) in names.enumerated() where index[name] == nil { index[name] = position }
        let rowCount = PQntuples(result)
        var rows: [PostgresRow] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            let values: [String?] = (0..<columnCount).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            }
            rows.append(PostgresRow(values: values, columnIndex: index))
        }
        columns = names
        self.rows = rows
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    /// A good result, left to the caller to read and free; a failed (or missing) one is freed
    /// and its error thrown.
    static func checked(_ result: OpaquePointer?, connection: OpaquePointer) throws(PostgresError) -> OpaquePointer {
        guard let result else {
            throw PostgresError(kind: .connection, message: PostgresConnection.trimmed(PQerrorMessage(connection)))
        }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let error = Self.error(from: result, connection: connection)
            PQclear(result)
            throw error
        }
        return result
    }

    /// The first value of a result requested in binary form, copied out; nil for no row or NULL.
    static func firstBinaryValue(consuming result: OpaquePointer?, connection: OpaquePointer) throws(PostgresError) -> [UInt8]? {
        let result = try Self.checked(result, connection: connection)
        defer { PQclear(result) }
        guard PQntuples(result) > 0, PQnfields(result) > 0, PQgetisnull(result, 0, 0) == 0, let value = PQgetvalue(result, 0, 0) else {
            return nil
        }
        return Array(UnsafeRawBufferPointer(start: value, count: Int(PQgetlength(result, 0, 0))))
    }

    /// The fields of a failed result; the letters are libpq's `PG_DIAG_*` codes, which Swift does
    /// not import (they are character-literal macros).
    private static func error(from result: OpaquePointer, connection: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else { return nil }
            return String(cString: value)
        }
        guard let state = field("C") else {
            return PostgresError(kind: .connection, message: PostgresConnection.trimmed(PQerrorMessage(connection)))
        }
        return PostgresError(
            kind: .statement,
            message: field("M") ?? PostgresConnection.trimmed(PQresultErrorMessage(result)),
            sqlState: state, constraint: field("n"), detail: field("D"), table: field("t"), column: field("c"))
    }

    /// The only value of a one-row, one-column result (nil for no row or NULL).
    public var scalar: String? { rows.first?.values.first ?? nil }
}

/// One row, values in text form.
public struct PostgresRow: Sendable {
    public let values: [String?]
    let columnIndex: [String: Int]

    public subscript(_ position: Int) -> String? { position < values.count ? values[position] : nil }

    public subscript(_ name: String) -> String? {
        guard let position = columnIndex[name] else { return nil }
        return values[position]
    }

    /// A column that the query guarantees is a non-null integer.
    public func integer(_ name: String) throws(PostgresError) -> Int64 {
        guard let text = self[name], let value = Int64(text) else {
            throw PostgresError(kind: .statement, message: "column \(name) is not an integer")
        }
        return value
    }

    public func string(_ name: String) throws(PostgresError) -> String {
        guard let text = self[name] else {
            throw PostgresError(kind: .statement, message: "column \(name) is null")
        }
        return text
    }

    /// PostgreSQL's text form of a boolean is `t` / `f`.
    public func bool(_ name: String) -> Bool { self[name] == "t" }
}

/// One row of a result, read in place (`PostgresConnection.forEachRow`); columns by position.
public struct PostgresRowView {
    let result: OpaquePointer
    let row: Int32

    /// The value's text, nil for NULL.
    public func bytes(_ column: Int32) -> UnsafeRawBufferPointer? {
        guard PQgetisnull(result, row, column) == 0, let value = PQgetvalue(result, row, column) else { return nil }
        return UnsafeRawBufferPointer(start: value, count: Int(PQgetlength(result, row, column)))
    }

    public func optionalString(_ column: Int32) -> String? { bytes(column).map { String(decoding: $0, as: UTF8.self) } }

    /// A column that the query guarantees is not null.
    public func string(_ column: Int32) throws(PostgresError) -> String {
        guard let text = optionalString(column) else {
            throw PostgresError(kind: .statement, message: "column \(column) is null")
        }
        return text
    }

    /// A column that the query guarantees is a non-null integer.
    public func integer(_ column: Int32) throws(PostgresError) -> Int64 {
        guard let text = bytes(column), let value = Self.parseInteger(text) else {
            throw PostgresError(kind: .statement, message: "column \(column) is not an integer")
        }
        return value
    }

    public func optionalInteger(_ column: Int32) -> Int64? { bytes(column).flatMap(Self.parseInteger) }

    static func parseInteger(_ text: UnsafeRawBufferPointer) -> Int64? {
        var value: Int64 = 0
        var negative = false
        for (index, byte) in text.enumerated() {
            if index == 0, byte == UInt8(ascii: "-") { negative = true; continue }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflow, !overflow2 else { return nil }
            value = sum
        }
        guard !text.isEmpty, !(negative && text.count == 1) else { return nil }
        return negative ? -value : value
    }
}
