import Hummingbird
import Logging

/// In front of every `/ui` page: finds the session the cookie names, sends a browser without
/// one to the login page, reads and CSRF-checks every form POST, lets only admins change
/// anything, and renders a failure as an HTML page (the API's `ErrorMiddleware` would answer
/// JSON).
struct WebMiddleware: RouterMiddleware {
    typealias Context = RegionRequestContext
    let store: RegionStore

    static let cookieName = "rackplane_session"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        var context = context
        let path = request.uri.path
        let isPost = request.method == .post
        // Defence in depth beside SameSite=Strict and the CSRF token: a browser names the page a
        // POST comes from, and it must be one of ours (the login form's too: nobody else's page
        // may log a browser in with a token of its choosing).
        if isPost, let origin = request.headers[.origin],
           !Self.sameOrigin(origin, host: request.head.authority),
           !Self.sameOrigin(origin, host: request.headers[Self.forwardedHost]) {
            return WebPage.response("error", title: "Refused", values: ["status": 403, "message": "cross-origin form refused"], session: nil, status: .forbidden)
        }
        if Self.isPublic(path) {
            return try await rendered(request, context) { try await next(request, context) }
        }
        let session = try await request.cookies[Self.cookieName].map(\.value).asyncFlatMap { id in
            try await store.webSession(id: id, takeFlash: !isPost)
        }
        guard let session else {
            if isPost {
                return WebPage.response("login", title: "Log in", values: ["error": "Your session has ended: log in again."], session: nil, status: .unauthorized)
            }
            return WebPage.redirect(to: "/ui/login")
        }
        context.webSession = session
        context.identity = session.identity
        if isPost {
            let buffer = try await request.collectBody(upTo: context.maxUploadSize)
            let form = FormBody(String(buffer: buffer))
            guard let sent = form["csrf"], AuthMiddleware.constantTimeEqual(sent, session.csrfToken) else {
                return WebPage.response("error", title: "Refused", values: ["status": 403, "message": "the form is stale or not from this site (CSRF token missing or wrong): reload the page and try again"], session: session, status: .forbidden)
            }
            // Logging out is everybody's; every other POST changes the model.
            if path != "/ui/logout", session.identity.role != .admin {
                return WebPage.response("error", title: "Read-only", values: ["status": 403, "message": "token \(session.identity.name) is read-only"], session: session, status: .forbidden)
            }
            context.form = form
        }
        return try await rendered(request, context) { try await next(request, context) }
    }

    /// Runs the page; a failure becomes an error page with the status the API would give.
    private func rendered(_ request: Request, _ context: Context, _ page: () async throws -> Response) async throws -> Response {
        do {
            return try await page()
        } catch {
            let failure = Self.apiError(error, deleting: request.method == .delete, path: request.uri.path, logger: context.logger)
            return WebPage.response(
                "error", title: failure.status.reasonPhrase,
                values: ["status": "\(failure.status.code) \(failure.status.reasonPhrase)", "message": failure.message],
                session: context.webSession, status: failure.status)
        }
    }

    /// The API's answer to `error`: its own status and message for a refusal, a logged 500 for a
    /// fault of ours.
    static func apiError(_ error: any Error, deleting: Bool, path: String, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HTTPError:
            return APIError(error.status, error.body ?? error.status.reasonPhrase)
        case let error as PostgresError:
            if let mapped = StoreErrorMapping.apiError(for: error, operation: deleting ? .delete : .write) {
                return mapped
            }
            logger.error("database error", metadata: ["error": "\(error)", "path": "\(path)"])
            return APIError(error.kind == .connection ? .serviceUnavailable : .internalServerError, "database error")
        default:
            logger.error("unexpected error", metadata: ["error": "\(error)", "path": "\(path)"])
            return APIError(.internalServerError, "internal error")
        }
    }

    /// A reverse proxy in front of the region names the host the browser used here.
    static let forwardedHost = HTTPFields.Element.Name("X-Forwarded-Host")!

    /// The login page and the stylesheet and script need no session.
    static func isPublic(_ path: String) -> Bool {
        path == "/ui/login" || path.hasPrefix("/ui/static/")
    }

    /// `Origin: http://host:port` against the `Host` the request was sent to.
    static func sameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host, let schemeEnd = origin.range(of: "://") else { return false }
        return origin[schemeEnd.upperBound...] == host[...]
    }
}

extension Optional {
    /// `flatMap` with an async transform.
    func asyncFlatMap<U>(_ transform: (Wrapped) async throws -> U?) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
