import Foundation
import Hummingbird
import Logging

/// Outermost: every failure becomes `{"error": "…"}` with a 4xx, except a real fault of ours
/// (500, logged). Bad input must never reach the 500 branch.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = RegionRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as HTTPError {
            // The router's 404 and the body limit's 413.
            let message: String
            switch error.status {
            case .notFound: message = "no such endpoint: \(request.method) \(request.uri.path)"
            case .contentTooLarge: message = "request body larger than \(RegionAPI.maximumBodySize) bytes"
            case .methodNotAllowed: message = "method \(request.method) not allowed on \(request.uri.path)"
            default: message = error.body ?? error.status.reasonPhrase
            }
            return APIError(error.status, message).response
        } catch let error as DecodingError {
            return APIError(.badRequest, RequestDecoding.describe(error)).response
        } catch let error as PostgresError {
            let operation: StoreErrorMapping.Operation = request.method == .delete ? .delete : .write
            if let mapped = StoreErrorMapping.apiError(for: error, operation: operation) {
                return mapped.response
            }
            context.logger.error("database error", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            let status: HTTPResponse.Status = error.kind == .connection ? .serviceUnavailable : .internalServerError
            return APIError(status, "database error").response
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return APIError(.internalServerError, "internal error").response
        }
    }
}

/// Refuses a declared body above the limit before reading any of it (a chunked body is cut
/// off by the same limit while it is collected).
struct BodyLimitMiddleware: RouterMiddleware {
    typealias Context = RegionRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers[.contentLength], let length = Int(declared), length > RegionAPI.maximumBodySize,
           !(request.method == .put && RegionAPI.isUploadPath(request.uri.path)) {
            throw APIError(.contentTooLarge, "request body larger than \(RegionAPI.maximumBodySize) bytes")
        }
        return try await next(request, context)
    }
}

/// Resolves the credentials: `Bearer TOKEN` for people and tools (reads need any role, writes
/// need admin), `Rack SECRET` for racks (docs/rack-region-protocol.md), which opens the rack
/// endpoints and nothing else.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = RegionRequestContext
    let store: RegionStore
    let rackSecret: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let header = request.headers[.authorization] ?? ""
        let path = request.uri.path
        // Enlistment: a machine nobody knows yet has no credentials; the endpoint only creates
        // machines in state New (EnlistRoutes).
        if path == "/api/v1/enlist", request.method == .post {
            var context = context
            context.identity = Identity(name: "enlistment", role: .readOnly)
            return try await next(request, context)
        }
        // A machine's report carries the token of its boot, which the route checks (ReportRoutes).
        if request.method == .post, ReportRoutes.isReportPath(path) {
            var context = context
            context.identity = Identity(name: "machine", role: .readOnly)
            return try await next(request, context)
        }
        // So does a booting machine asking for its proxy settings (ProxyRoutes checks the token).
        if request.method == .get, ProxyRoutes.isMachineProxyPath(path), ProxyRoutes.bootToken(request) != nil {
            var context = context
            context.identity = Identity(name: "machine", role: .readOnly)
            return try await next(request, context)
        }
        let identity: Identity
        if header.hasPrefix("Rack ") {
            let secret = String(header.dropFirst("Rack ".count)).trimmingCharacters(in: .whitespaces)
            guard !rackSecret.isEmpty, Self.constantTimeEqual(secret, rackSecret) else {
                throw APIError(.unauthorized, "wrong rack secret (rackplane region secret shows it)")
            }
            identity = Identity(name: "rack", role: .rack)
        } else if header.hasPrefix("Bearer ") {
            let token = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
            guard let known = try await store.identity(forToken: token) else { throw APIError(.unauthorized, "unknown token") }
            identity = known
        } else if RegionAPI.isRackProtocolPath(path) {
            throw APIError(.unauthorized, "the rack secret is required (Authorization: Rack SECRET)")
        } else {
            throw APIError(.unauthorized, "a bearer token is required (Authorization: Bearer TOKEN)")
        }
        let reading = request.method == .get || request.method == .head
        switch identity.role {
        case .rack:
            guard RegionAPI.isRackProtocolPath(path) || (reading && RegionAPI.isTablesPath(path)) else {
                throw APIError(.forbidden, "the rack secret opens the rack endpoints only")
            }
        case .admin, .readOnly:
            if RegionAPI.isRackProtocolPath(path) {
                throw APIError(.forbidden, "rack endpoints take the rack secret (Authorization: Rack SECRET)")
            }
            if identity.role == .readOnly, !reading {
                throw APIError(.forbidden, "token \(identity.name) is read-only")
            }
        }
        var context = context
        context.identity = identity
        return try await next(request, context)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}

/// Counts answers by method and status for /metrics.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = RegionRequestContext
    let metrics: RegionMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        metrics.countRequest(method: request.method.rawValue, status: response.status.code)
        return response
    }
}
