import CLibPQ
import Glibc

/// One libpq connection. Not thread-safe: `PostgresPool` hands it to one caller at a time, which
/// is why it can be `@unchecked Sendable`.
///
/// Every statement with values goes through `PQexecParams` with text parameters: values never
/// become part of the SQL text.
public final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer

    /// Connects with a libpq connection string or URI (`postgresql://…`, `host=/dir dbname=x`).
    public init(_ connectionString: String) throws(PostgresError) {
        guard let handle = PQconnectdb(connectionString) else {
            throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(handle))
            PQfinish(handle)
            throw PostgresError(kind: .connection, message: message)
        }
        self.handle = handle
        // Notices ("extension already exists, skipping") would otherwise go to our stderr.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        PQsetClientEncoding(handle, "UTF8")
    }

    deinit { PQfinish(handle) }

    /// Whether the connection is still usable; a pool drops one that is not.
    public var isHealthy: Bool {
        PQstatus(handle) == CONNECTION_OK && PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    /// Runs one statement with `$1…$n` bound to `parameters` (text form; nil is SQL NULL).
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> PostgresResult {
        try PostgresResult(consuming: execute(sql, parameters, binaryResult: false), connection: handle)
    }

    /// PQexecParams with text parameters (nil is SQL NULL); the result, or nil, is the caller's.
    private func execute(_ sql: String, _ parameters: [String?], binaryResult: Bool) -> OpaquePointer? {
        // libpq wants C strings that outlive the call: copy them, free them after.
        let copies: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.flatMap { strdup($0) } }
        defer { copies.forEach { free($0) } }
        let values = copies.map { UnsafePointer($0) }
        return values.withUnsafeBufferPointer { buffer in
            PQexecParams(handle, sql, Int32(parameters.count), nil, buffer.baseAddress, nil, nil, binaryResult ? 1 : 0)
        }
    }

    /// A statement parameter: text (PostgreSQL parses it by the column's type) or raw bytes
    /// (`bytea` in binary form: a table snapshot goes in as it is, not as a hex string twice its
    /// size that the server decodes again).
    public enum Parameter: Sendable {
        case text(String?)
        case bytes([UInt8])
    }

    /// Runs one statement with `$1…$n` bound to `parameters`, each in its own form.
    @discardableResult
    public func query(_ sql: String, parameters: [Parameter]) throws(PostgresError) -> PostgresResult {
        let arrays: [[UInt8]?] = parameters.map { parameter in
            switch parameter {
            case .text(let text): text.map { Array($0.utf8) + [0] }
            case .bytes(let bytes): bytes
            }
        }
        let lengths = arrays.map { Int32($0?.count ?? 0) }
        let formats: [Int32] = parameters.map { if case .bytes = $0 { 1 } else { 0 } }
        let result = withBytePointers(arrays) { pointers in
            PQexecParams(handle, sql, Int32(parameters.count), nil, pointers, lengths, formats, 0)
        }
        return try PostgresResult(consuming: result, connection: handle)
    }

    /// Runs one statement and hands its rows to `body` one at a time, their values borrowed from
    /// libpq's result (text form) instead of copied into strings first: the compiler reads 100k
    /// interfaces and 100k records per pass. The view is valid only inside `body`.
    public func forEachRow(_ sql: String, _ parameters: [String?] = [],
                           _ body: (PostgresRowView) throws(PostgresError) -> Void) throws(PostgresError) {
        let checked = try PostgresResult.checked(execute(sql, parameters, binaryResult: false), connection: handle)
        defer { PQclear(checked) }
        for row in 0..<PQntuples(checked) {
            try body(PostgresRowView(result: checked, row: row))
        }
    }

    /// The first column of the first row in binary form (a `bytea` as its bytes), nil for no row
    /// or NULL.
    public func bytes(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> [UInt8]? {
        try PostgresResult.firstBinaryValue(consuming: execute(sql, parameters, binaryResult: true), connection: handle)
    }

    /// Calls `body` with a C array of pointers to `arrays`' storage (nil for a nil array, SQL
    /// NULL). Each array stays pinned while its pointer is in use: one nested closure per array.
    private func withBytePointers<R>(_ arrays: [[UInt8]?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        var pointers: [UnsafePointer<CChar>?] = []
        pointers.reserveCapacity(arrays.count)
        func pin(_ index: Int) -> R {
            guard index < arrays.count else { return pointers.withUnsafeBufferPointer { body($0.baseAddress) } }
            guard let array = arrays[index] else {
                pointers.append(nil)
                return pin(index + 1)
            }
            return array.withUnsafeBytes { raw in
                // An empty value still needs a non-null pointer: null means SQL NULL.
                pointers.append(raw.baseAddress?.assumingMemoryBound(to: CChar.self) ?? UnsafePointer(bitPattern: 1))
                return pin(index + 1)
            }
        }
        return pin(0)
    }

    /// Runs a script of several statements without parameters (migrations only: `PQexecParams`
    /// accepts one statement at a time).
    public func execute(script: String) throws(PostgresError) {
        _ = try PostgresResult(consuming: PQexec(handle, script), connection: handle)
    }

    public enum Isolation: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(
        isolation: Isolation = .readCommitted, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        try query("BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        do {
            let value = try body(self)
            try query("COMMIT")
            return value
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
    }

    // MARK: Notifications

    /// The socket, for waiting on notifications with `poll`.
    var socket: Int32 { PQsocket(handle) }

    /// Reads what the server sent and returns the notifications received so far.
    func drainNotifications() throws(PostgresError) -> [PostgresNotification] {
        guard PQconsumeInput(handle) == 1 else {
            throw PostgresError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle)))
        }
        var received: [PostgresNotification] = []
        while let notify = PQnotifies(handle) {
            received.append(PostgresNotification(
                channel: String(cString: notify.pointee.relname),
                payload: String(cString: notify.pointee.extra),
                senderProcessID: notify.pointee.be_pid))
            PQfreemem(notify)
        }
        return received
    }

    static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown libpq error" }
        var message = String(cString: text)
        while message.last?.isWhitespace == true { message.removeLast() }
        return message.isEmpty ? "unknown libpq error" : message
    }
}

/// A NOTIFY received on a LISTEN channel.
public struct PostgresNotification: Sendable, Hashable {
    public var channel: String
    public var payload: String
    public var senderProcessID: Int32
}
