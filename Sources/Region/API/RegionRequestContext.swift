import Hummingbird

/// Per-request state: who is asking, once `AuthMiddleware` has looked at the token.
public struct RegionRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Identity?
    /// The web UI's session, once `WebMiddleware` found one (the UI's pages only).
    var webSession: WebSession?
    /// A web form's fields, read and CSRF-checked by `WebMiddleware` (the UI's POSTs only).
    var form: FormBody?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Bodies above 1 MiB are refused with 413: nothing in the model needs more.
    public var maxUploadSize: Int { RegionAPI.maximumBodySize }

    /// The identity `AuthMiddleware` set; routes behind it always have one.
    func requireIdentity() throws -> Identity {
        guard let identity else { throw APIError(.unauthorized, "a bearer token is required") }
        return identity
    }
}
