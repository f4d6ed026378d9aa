import Foundation

/// `redfish`: DMTF Redfish over HTTPS. The system is `system` (a path such as
/// `/redfish/v1/Systems/1`) or else the first member of `/redfish/v1/Systems`.
///
///     {"address": "https://10.0.0.5", "username": "admin", "password": "…",
///      "system": "/redfish/v1/Systems/1", "auth": "basic" | "session",
///      "verify_tls": true, "timeout": 10, "retries": 2}
///
/// | action | request |
/// |---|---|
/// | on, off, cycle, soft-off | POST the system's `#ComputerSystem.Reset` target with `ResetType` `On`, `ForceOff`, `ForceRestart` (`On` when off), `GracefulShutdown` |
/// | query | GET the system: `PowerState` |
/// | next boot PXE | PATCH the system: `Boot` `{"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe"}` |
///
/// `auth: session` logs in through the SessionService (`X-Auth-Token`) and logs out after the
/// call; `basic` (default) sends the credentials with every request.
struct RedfishPower: PowerDriver {
    struct Parameters: Decodable, Sendable {
        var address: String
        var username: String?
        var password: String?
        var system: String?
        var auth: String?
        var verify_tls: Bool?
        var timeout: Double?
        var retries: Int?
    }

    let base: String
    let parameters: Parameters
    let timing: PowerTiming
    let useSession: Bool

    init(_ parameters: Parameters) throws {
        var address = parameters.address
        if !address.hasPrefix("http://") && !address.hasPrefix("https://") { address = "https://" + address }
        while address.hasSuffix("/") { address.removeLast() }
        guard let url = URLComponents(string: address), url.host?.isEmpty == false, url.path.isEmpty else {
            throw PowerError(.parameters, "address must be a host or https://host[:port]")
        }
        guard [nil, "basic", "session"].contains(parameters.auth) else { throw PowerError(.parameters, "auth must be basic or session") }
        if let system = parameters.system, !system.hasPrefix("/redfish/") {
            throw PowerError(.parameters, "system must be a path under /redfish/ (like /redfish/v1/Systems/1)")
        }
        base = address
        self.parameters = parameters
        timing = try PowerTiming(timeout: parameters.timeout, retries: parameters.retries)
        useSession = parameters.auth == "session"
    }

    func perform(_ action: PowerAction) throws -> PowerOutcome {
        try withSession { client in
            let (path, system) = try client.system()
            let state = Self.state(system["PowerState"] as? String)
            let resetType: String
            switch action {
            case .query:
                return PowerOutcome(state: state, message: "redfish: PowerState \(system["PowerState"] as? String ?? "absent")")
            case .on: resetType = "On"
            case .off: resetType = "ForceOff"
            case .softOff: resetType = "GracefulShutdown"
            case .cycle: resetType = state == .off ? "On" : "ForceRestart"
            }
            let actions = system["Actions"] as? [String: Any]
            let reset = actions?["#ComputerSystem.Reset"] as? [String: Any]
            let target = reset?["target"] as? String ?? path + "/Actions/ComputerSystem.Reset"
            _ = try client.call("POST", target, json: ["ResetType": resetType])
            let after: PowerState = action == .on || action == .cycle ? .on : (action == .off ? .off : state)
            return PowerOutcome(state: after, message: "redfish: \(resetType) accepted (was \(state.rawValue))")
        }
    }

    func setNextBootPXE() throws {
        try withSession { client in
            let (path, _) = try client.system()
            _ = try client.call("PATCH", path, json: ["Boot": ["BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe"]])
        }
    }

    static func state(_ text: String?) -> PowerState {
        switch text {
        case "On", "PoweringOff": .on
        case "Off", "PoweringOn": .off
        default: .unknown
        }
    }

    /// Runs `body` with a client, inside a session when `auth` is session (always logged out).
    private func withSession<T>(_ body: (Client) throws -> T) throws -> T {
        try PowerDrivers.withRetries(timing.retries) {
            let user = parameters.username ?? ""
            let password = parameters.password ?? ""
            let http = BMCHTTP(timeout: timing.timeout, verifyTLS: parameters.verify_tls ?? true,
                               basicAuth: useSession || parameters.username == nil ? nil : (user: user, password: password))
            var client = Client(base: base, http: http, systemPath: parameters.system)
            guard useSession else { return try body(client) }
            let login = try client.call("POST", "/redfish/v1/SessionService/Sessions", json: ["UserName": user, "Password": password])
            guard let token = login.response.headers["x-auth-token"] else {
                throw PowerError(.failed, "redfish: \(client.host) opened a session without an X-Auth-Token")
            }
            client.token = token
            defer {
                if let location = login.response.headers["location"] {
                    _ = try? client.call("DELETE", location, json: nil)
                }
            }
            return try body(client)
        }
    }

    struct Client {
        let base: String
        let http: BMCHTTP
        let systemPath: String?
        var token: String?

        var host: String { URLComponents(string: base)?.host ?? base }

        /// The system's path and its resource.
        func system() throws -> (String, [String: Any]) {
            var path = systemPath
            if path == nil {
                let systems = try call("GET", "/redfish/v1/Systems", json: nil).object
                guard let members = systems["Members"] as? [[String: Any]], let first = members.first?["@odata.id"] as? String else {
                    throw PowerError(.failed, "redfish: \(host) lists no systems")
                }
                path = first
            }
            return (path!, try call("GET", path!, json: nil).object)
        }

        func call(_ method: String, _ path: String, json: [String: Any]?) throws -> (response: BMCHTTP.Response, object: [String: Any]) {
            var headers = [("Accept", "application/json"), ("OData-Version", "4.0")]
            if let token { headers.append(("X-Auth-Token", token)) }
            var body: [UInt8]?
            if let json {
                headers.append(("Content-Type", "application/json"))
                body = Array((try? JSONSerialization.data(withJSONObject: json)) ?? Data())
            }
            // A Location may be absolute; a path is joined to the address.
            let url = path.hasPrefix("http") ? path : base + path
            let response = try http.request(method, url, headers: headers, body: body)
            switch response.status {
            case 200..<300:
                let object = response.body.isEmpty ? [:] : (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
                return (response, object)
            case 401, 403:
                throw PowerError(.authentication, "redfish: \(host) refused the credentials (HTTP \(response.status))")
            default:
                throw PowerError(.failed, "redfish: \(host): \(method) \(path) answered HTTP \(response.status)\(Self.message(response))")
            }
        }

        /// Redfish's `error.@Message.ExtendedInfo[0].Message`, when there is one.
        static func message(_ response: BMCHTTP.Response) -> String {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any],
                  let error = object["error"] as? [String: Any] else { return "" }
            if let info = error["@Message.ExtendedInfo"] as? [[String: Any]], let text = info.first?["Message"] as? String { return ": " + text }
            return (error["message"] as? String).map { ": " + $0 } ?? ""
        }
    }
}
