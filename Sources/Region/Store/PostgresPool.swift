import Dispatch
import Synchronization

/// A few connections shared by the API handlers and the compiler.
///
/// libpq calls block, so the work runs on a dispatch queue of its own rather than on Swift's
/// cooperative threads (two on this kind of machine): a slow query must not stall the server.
public final class PostgresPool: Sendable {
    public let connectionString: String
    public let maximumConnections: Int

    private struct State {
        var idle: [PostgresConnection] = []
        var open = 0
        var waiters: [CheckedContinuation<PostgresConnection?, Never>] = []
        var closed = false
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "rackplane.region.postgres", attributes: .concurrent)

    public init(connectionString: String, maximumConnections: Int = 6) {
        self.connectionString = connectionString
        self.maximumConnections = max(1, maximumConnections)
    }

    /// Runs `body` with a connection of its own, off the cooperative pool.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let connection = try await checkOut()
        defer { checkIn(connection) }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(connection) })
            }
        }
    }

    /// Connections currently open (for /metrics).
    public var openConnections: Int { state.withLock { $0.open } }

    /// Closes idle connections and refuses new work; connections in use close when returned.
    public func close() {
        let waiters = state.withLock { state in
            state.closed = true
            state.open -= state.idle.count
            state.idle.removeAll()
            let waiting = state.waiters
            state.waiters.removeAll()
            return waiting
        }
        waiters.forEach { $0.resume(returning: nil) }
    }

    private enum Next {
        case ready(PostgresConnection)
        case connect
        case wait
        case closed
    }

    private func checkOut() async throws -> PostgresConnection {
        let next: Next = state.withLock { state in
            if state.closed { return .closed }
            if let connection = state.idle.popLast() { return .ready(connection) }
            if state.open < maximumConnections {
                state.open += 1
                return .connect
            }
            return .wait
        }
        switch next {
        case .ready(let connection):
            return connection
        case .closed:
            throw PostgresError(kind: .connection, message: "the connection pool is closed")
        case .connect:
            do {
                let connectionString = self.connectionString
                return try await withCheckedThrowingContinuation { continuation in
                    queue.async {
                        continuation.resume(with: Result { try PostgresConnection(connectionString) })
                    }
                }
            } catch {
                state.withLock { $0.open -= 1 }
                throw error
            }
        case .wait:
            let handed = await withCheckedContinuation { (continuation: CheckedContinuation<PostgresConnection?, Never>) in
                let closed = state.withLock { state in
                    if state.closed { return true }
                    if let connection = state.idle.popLast() {
                        continuation.resume(returning: connection)
                    } else {
                        state.waiters.append(continuation)
                    }
                    return false
                }
                if closed { continuation.resume(returning: nil) }
            }
            guard let handed else {
                throw PostgresError(kind: .connection, message: "no database connection available")
            }
            return handed
        }
    }

    private func checkIn(_ connection: PostgresConnection) {
        // A broken connection (server restarted, a transaction left open by a bug) is dropped;
        // a waiter then gets a fresh one.
        let healthy = connection.isHealthy
        let waiter: CheckedContinuation<PostgresConnection?, Never>? = state.withLock { state in
            if !healthy || state.closed {
                state.open -= 1
                return nil
            }
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.idle.append(connection)
            return nil
        }
        if let waiter {
            waiter.resume(returning: connection)
        } else if !healthy {
            replaceForWaiter()
        }
    }

    /// After dropping a connection, opens a new one if somebody is waiting for it.
    private func replaceForWaiter() {
        let needed = state.withLock { state -> Bool in
            guard !state.waiters.isEmpty, !state.closed, state.open < maximumConnections else { return false }
            state.open += 1
            return true
        }
        guard needed else { return }
        queue.async { [self] in
            let connection = try? PostgresConnection(connectionString)
            let (waiter, keep) = state.withLock { state -> (CheckedContinuation<PostgresConnection?, Never>?, Bool) in
                let keep = connection != nil && !state.closed
                if !keep { state.open -= 1 }
                return (state.waiters.isEmpty ? nil : state.waiters.removeFirst(), keep)
            }
            if keep, let connection {
                if let waiter { waiter.resume(returning: connection) } else { checkIn(connection) }
            } else {
                // The server is unreachable: the waiter fails rather than waiting forever.
                waiter?.resume(returning: nil)
            }
        }
    }
}
