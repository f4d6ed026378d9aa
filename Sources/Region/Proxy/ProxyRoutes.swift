import Foundation
import Hummingbird

/// What the region tells machines about its proxy.
public struct ProxyAdvertisement: Sendable {
    /// False when the proxy is off or squid is not installed (see also `serving`).
    public var enabled: Bool
    public var port: Int
    /// The operator's `proxy_url`, used as it is.
    public var url: String?
    /// The API's listen address: the proxy's host when a request names none.
    public var listenHost: String
    /// Whether squid is running now. A machine told to use a proxy that is down fails every
    /// package it fetches, so while squid is down (restarting, or given up on) machines are
    /// told there is none and fetch directly.
    public var serving: @Sendable () -> Bool

    public static let off = ProxyAdvertisement(enabled: false, port: 0, url: nil, listenHost: "")

    public init(enabled: Bool, port: Int, url: String?, listenHost: String, serving: @escaping @Sendable () -> Bool = { true }) {
        self.enabled = enabled
        self.port = port
        self.url = url
        self.listenHost = listenHost
        self.serving = serving
    }

    /// The proxy's URL for a client that reached the API at `authority` (`Host`): squid runs
    /// beside the API, so the name or address that reached one reaches the other.
    public func url(authority: String?) -> String? {
        guard enabled, serving() else { return nil }
        if let url { return url }
        var host = Self.host(ofAuthority: authority ?? "")
        if host.isEmpty {
            host = ["0.0.0.0", "::", ""].contains(listenHost) ? ProxyService.hostName() : listenHost
            if host.contains(":") { host = "[\(host)]" }
        }
        return "http://\(host):\(port)/"
    }

    /// `host:port`, `[v6]:port` or `host` → the host, brackets kept around an IPv6 address.
    static func host(ofAuthority authority: String) -> String {
        if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") {
            return String(authority[...end])
        }
        if let colon = authority.firstIndex(of: ":") { return String(authority[..<colon]) }
        return authority
    }
}

/// `GET /api/v1/machines/{id}/proxy`: the proxy settings to put in a machine's cloud-init
/// user-data or preseed (docs/proxy.md).
struct ProxyRoutes: Sendable {
    let store: RegionStore
    let advertisement: ProxyAdvertisement

    struct MachineProxy: Encodable {
        var enabled: Bool
        var httpProxy: String?
        /// A cloud-config fragment: APT through the proxy.
        var cloudConfig: String?
        /// debian-installer's preseed line.
        var preseed: String?

        enum CodingKeys: String, CodingKey {
            case enabled, httpProxy = "http_proxy", cloudConfig = "cloud_config", preseed
        }

        // nil values are written as null: a client reads `http_proxy` either way.
        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(enabled, forKey: .enabled)
            try container.encode(httpProxy, forKey: .httpProxy)
            try container.encode(cloudConfig, forKey: .cloudConfig)
            try container.encode(preseed, forKey: .preseed)
        }
    }

    func register(on group: RouterGroup<RegionRequestContext>) {
        group.get("machines/:id/proxy") { request, context in
            let machine = try RegionAPI.id(context, "machine")
            let bootToken = Self.bootToken(request)
            try await store.read { connection in
                // A booting machine asks with its boot's token (the middleware let it through),
                // checked before the id: a made-up token learns nothing of which machines exist.
                if let bootToken {
                    switch try Lifecycle.checkToken(bootToken, machine: machine, on: connection) {
                    case .valid: return
                    case .unknown: throw APIError(.unauthorized, "not this machine's boot token")
                    case .expired, .used: throw APIError(.forbidden, "the boot token is no longer valid (its boot reported, or timed out)")
                    }
                }
                guard try MachineRoutes.machineExists(machine, on: connection) else { throw APIError.notFound("machine", machine) }
            }
            return JSONBody.response(status: .ok, encoding: Self.settings(url: advertisement.url(authority: request.head.authority)))
        }
    }

    /// `Authorization: Bearer rpb_…`: the per-boot token a commissioning or deploying machine
    /// carries on its kernel command line (docs/lifecycle.md), which opens this endpoint for
    /// that machine as well as its report.
    static func bootToken(_ request: Request) -> String? {
        let header = request.headers[.authorization] ?? ""
        guard header.hasPrefix("Bearer " + BootTokenKey.prefix) else { return nil }
        return String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
    }

    /// `/api/v1/machines/{id}/proxy`.
    static func isMachineProxyPath(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 6 && parts[0].isEmpty && parts[1] == "api" && parts[2] == "v1" && parts[3] == "machines" && parts[5] == "proxy"
    }

    static func settings(url: String?) -> MachineProxy {
        guard let url else { return MachineProxy(enabled: false) }
        return MachineProxy(
            enabled: true, httpProxy: url,
            // HTTPS goes through the same port as CONNECT tunnels (not cached, but allowed).
            cloudConfig: "#cloud-config\napt:\n  http_proxy: \(url)\n  https_proxy: \(url)\n",
            preseed: "d-i mirror/http/proxy string \(url)\n")
    }
}
