/// How one kind of object maps onto its table, so that list/get/create/update/delete are
/// written once. Output JSON is built by PostgreSQL (`row_to_json` over `outputColumns`), which
/// renders addresses, MACs, arrays and timestamps in their canonical text.
struct Resource: Sendable {
    /// Singular, for events and messages: "subnet".
    var objectType: String
    /// Under /api/v1: "subnets".
    var path: String
    var table: String
    /// The select list over alias `t`, each item named as the JSON field it becomes.
    var outputColumns: String
    /// Columns a client writes, in the order of `ResourceInput.values`, each with the SQL
    /// expression around its parameter (`$` stands for it).
    var writableColumns: [(name: String, expression: String)]

    init(objectType: String, path: String, table: String, outputColumns: String, writable: [String], expressions: [String: String] = [:]) {
        self.objectType = objectType
        self.path = path
        self.table = table
        self.outputColumns = outputColumns
        self.writableColumns = writable.map { ($0, expressions[$0] ?? "$") }
    }

    /// SELECT of one row as JSON text, by id ($1).
    var selectOneSQL: String {
        "SELECT row_to_json(x)::text FROM (SELECT \(outputColumns) FROM \(table) t WHERE t.id = $1::bigint) x"
    }

    /// SELECT of every row as a JSON array, by id.
    func selectAllSQL(filter: String? = nil) -> String {
        let condition = filter.map { " WHERE \($0)" } ?? ""
        return "SELECT coalesce(json_agg(x ORDER BY x.id), '[]')::text FROM (SELECT \(outputColumns) FROM \(table) t\(condition)) x"
    }

    /// INSERT of the writable columns ($1…), returning the new id. `leading` are extra leading
    /// columns fixed by the route (a machine id from the path) at $1…
    func insertSQL(leading: [String] = []) -> String {
        let names = leading + writableColumns.map(\.name)
        var placeholders = leading.indices.map { "$\($0 + 1)" }
        for (offset, column) in writableColumns.enumerated() {
            placeholders.append(column.expression.replacingOccurrences(of: "$", with: "$\(leading.count + offset + 1)"))
        }
        return "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(placeholders.joined(separator: ", "))) RETURNING id"
    }

    /// UPDATE of the writable columns of row $1 (and, with `scope`, only where that holds at $2).
    func updateSQL(scope: String? = nil) -> String {
        let first = scope == nil ? 2 : 3
        let assignments = writableColumns.enumerated().map { offset, column in
            "\(column.name) = " + column.expression.replacingOccurrences(of: "$", with: "$\(first + offset)")
        }
        let condition = scope.map { " AND \($0) = $2::bigint" } ?? ""
        return "UPDATE \(table) SET \(assignments.joined(separator: ", ")) WHERE id = $1::bigint\(condition) RETURNING id"
    }

    func deleteSQL(scope: String? = nil) -> String {
        let condition = scope.map { " AND \($0) = $2::bigint" } ?? ""
        return "DELETE FROM \(table) WHERE id = $1::bigint\(condition)"
    }
}

/// A create or update body: decoded strictly, then handed to SQL as text parameters.
protocol ResourceInput: Decodable, Sendable {
    /// One text value (nil for NULL) per `Resource.writableColumns`, in order.
    var values: [String?] { get }
    /// A line for the event log.
    var summary: String { get }
    /// What is written, in the write's transaction (`updating` the row's id, nil on create):
    /// `values`, unless some of them must be sealed first (power parameters).
    func values(sealing vault: PowerVault, updating id: String?, on connection: PostgresConnection) throws -> [String?]
}

extension ResourceInput {
    func values(sealing vault: PowerVault, updating id: String?, on connection: PostgresConnection) throws -> [String?] { values }
}

extension Optional where Wrapped == Int64 {
    var text: String? { map(String.init) }
}
