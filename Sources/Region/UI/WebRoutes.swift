import Hummingbird

/// The web UI under `/ui`: the same model, store and lifecycle as the API, rendered as HTML
/// (docs/web-ui.md). Pages need a session, which an API token opens at `/ui/login`.
struct WebRoutes: Sendable {
    let store: RegionStore

    func register(on router: Router<RegionRequestContext>) {
        router.get("/") { _, _ in WebPage.redirect(to: "/ui/machines") }
        let ui = router.group("ui").add(middleware: WebMiddleware(store: store))
        ui.get("") { _, _ in WebPage.redirect(to: "/ui/machines") }
        ui.get("static/:file") { _, context in try Self.staticFile(context.parameters.get("file") ?? "") }
        ui.get("login") { _, _ in WebPage.response("login", title: "Log in", session: nil) }
        ui.post("login") { request, context in try await login(request, context) }
        ui.post("logout") { _, context in try await logout(context) }

        let machines = MachinePages(store: store)
        ui.get("machines") { request, context in try await machines.list(request, context) }
        ui.get("machines/new") { _, context in try await machines.newForm(context) }
        ui.post("machines") { _, context in try await machines.create(context) }
        ui.post("machines/bulk") { _, context in try await machines.bulk(context) }
        ui.get("machines/:id") { _, context in try await machines.show(context) }
        ui.post("machines/:id/actions") { _, context in try await machines.act(context) }

        let network = NetworkPages(store: store)
        ui.get("subnets") { _, context in try await network.subnets(context) }
        ui.get("subnets/:id") { _, context in try await network.subnet(context) }
        ui.get("ranges") { _, context in try await network.ranges(context) }
        ui.get("leases") { _, context in try await network.leases(context) }
        ui.get("racks") { _, context in try await network.racks(context) }
        ui.get("dns") { _, context in try await network.dns(context) }
        ui.get("boot-resources") { _, context in try await network.bootResources(context) }
        ui.get("events") { request, context in try await network.events(request, context) }
        // Anything else under /ui: a page of ours saying so (the API's 404 is JSON).
        ui.get("**") { request, _ -> Response in throw APIError(.notFound, "no page \(request.uri.path)") }
    }

    /// Checks the token and opens a session: an HttpOnly, SameSite=Strict cookie scoped to
    /// `/ui` (Secure when a proxy says the browser came over https).
    func login(_ request: Request, _ context: RegionRequestContext) async throws -> Response {
        var request = request
        let form = FormBody(String(buffer: try await request.collectBody(upTo: context.maxUploadSize)))
        guard let token = form.text("token") else {
            return WebPage.response("login", title: "Log in", values: ["error": "Paste an API token."], session: nil, status: .badRequest)
        }
        guard let sessionID = try await store.openWebSession(token: token) else {
            return WebPage.response("login", title: "Log in", values: ["error": "Unknown token."], session: nil, status: .unauthorized)
        }
        var response = WebPage.redirect(to: "/ui/machines")
        let secure = request.headers[Self.forwardedProto] == "https"
        response.setCookie(Cookie(
            name: WebMiddleware.cookieName, value: sessionID, maxAge: RegionStore.webSessionLifetimeSeconds,
            path: "/ui", secure: secure, httpOnly: true, sameSite: .strict))
        return response
    }

    func logout(_ context: RegionRequestContext) async throws -> Response {
        if let session = context.webSession { try await store.closeWebSession(session) }
        var response = WebPage.redirect(to: "/ui/login")
        response.setCookie(Cookie(name: WebMiddleware.cookieName, value: "", maxAge: 0, path: "/ui", httpOnly: true, sameSite: .strict))
        return response
    }

    static let forwardedProto = HTTPFields.Element.Name("X-Forwarded-Proto")!

    /// The stylesheet, the script and the icon, compiled in.
    static func staticFile(_ name: String) throws -> Response {
        let file: (bytes: [UInt8], type: String)
        switch name {
        case "app.css": file = (PackageResources.app_css, "text/css; charset=utf-8")
        case "app.js": file = (PackageResources.app_js, "text/javascript; charset=utf-8")
        case "favicon.svg": file = (PackageResources.favicon_svg, "image/svg+xml")
        default: throw APIError(.notFound, "no static file \(name)")
        }
        return Response(
            status: .ok,
            headers: [.contentType: file.type, .cacheControl: "max-age=300", .xContentTypeOptions: "nosniff"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }
}
