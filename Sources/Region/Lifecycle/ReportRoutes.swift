import Foundation
import Hummingbird

/// `POST /api/v1/machines/{id}/report`: the commissioning or deployment environment says it
/// finished (`{"status": "ok"}`) or failed (`{"status": "failed", "message": "…"}`), with the
/// per-boot token from its kernel command line as `Authorization: Bearer rpb_…` (or a `token`
/// field). No API token opens this endpoint, and the boot token opens nothing else.
struct ReportRoutes: Sendable {
    let store: RegionStore

    func register(on group: RouterGroup<RegionRequestContext>) {
        group.post("machines/:id/report") { request, context in
            let machine = try RegionAPI.id(context, "machine")
            let input = try await RequestDecoding.decode(Lifecycle.ReportInput.self, from: request, context: context)
            guard let token = Self.token(request, input) else {
                throw APIError(.unauthorized, "the boot's token is required (Authorization: Bearer TOKEN, from rackplane.token= on the kernel command line)")
            }
            let result = try await store.pool.withConnection { connection in
                try connection.transaction { try Lifecycle.report(machine: machine, token: token, input: input, on: $0) }
            }
            switch result {
            case .accepted(let json): return JSONBody.response(status: .ok, json: json)
            case .refused(let error): throw error
            }
        }
    }

    /// The header's bearer token, else the body's.
    static func token(_ request: Request, _ input: Lifecycle.ReportInput) -> String? {
        let header = request.headers[.authorization] ?? ""
        if header.hasPrefix("Bearer ") {
            let token = header.dropFirst("Bearer ".count).trimmingCharacters(in: .whitespaces)
            if !token.isEmpty { return token }
        }
        return input.token.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `/api/v1/machines/{id}/report`: authenticated by the boot token in the route, not by the
    /// API's middleware.
    static func isReportPath(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 6 && parts[0].isEmpty && parts[1] == "api" && parts[2] == "v1" && parts[3] == "machines" && parts[5] == "report"
    }
}
