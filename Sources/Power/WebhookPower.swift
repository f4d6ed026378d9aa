import Foundation

/// `webhook`: an HTTP request per action, for power switches and orchestration that speak
/// HTTP. URLs, bodies and headers are templates: `{{system_id}}`, `{{hostname}}` and
/// `{{action}}` are replaced (an unknown `{{name}}` is a parameter error, not a silent blank).
///
///     {"on_url": "https://pdu.example/api/outlets/{{hostname}}/on",
///      "off_url": "…", "cycle_url": "…", "soft_off_url": "…", "query_url": "…", "pxe_url": "…",
///      "method": "POST", "body": "{\"machine\": \"{{system_id}}\"}",
///      "headers": {"Authorization": "Bearer s3cret", "Content-Type": "application/json"},
///      "on_pattern": "\"state\": *\"on\"", "off_pattern": "\"state\": *\"off\"",
///      "username": "…", "password": "…", "verify_tls": true, "timeout": 10, "retries": 2}
///
/// Any 2xx is success; 401 and 403 are refused credentials. Without a `cycle_url`, cycle is
/// off then on. The query's answer is on when `on_pattern` (default: the word on or running)
/// matches its body, off when `off_pattern` (default: the word off or stopped) does.
struct WebhookPower: PowerDriver {
    struct Parameters: Decodable, Sendable {
        var on_url: String?
        var off_url: String?
        var cycle_url: String?
        var soft_off_url: String?
        var query_url: String?
        var pxe_url: String?
        /// For actions; the query is always GET.
        var method: String?
        var body: String?
        var headers: [String: String]?
        var on_pattern: String?
        var off_pattern: String?
        var username: String?
        var password: String?
        var verify_tls: Bool?
        var timeout: Double?
        var retries: Int?
    }

    let parameters: Parameters
    let context: PowerContext
    let timing: PowerTiming
    let http: BMCHTTP

    static let templateNames = ["system_id", "hostname", "action"]
    static let methods = ["POST", "PUT", "GET", "PATCH", "DELETE"]

    init(_ parameters: Parameters, context: PowerContext) throws {
        self.parameters = parameters
        self.context = context
        timing = try PowerTiming(timeout: parameters.timeout, retries: parameters.retries)
        let urls = [parameters.on_url, parameters.off_url, parameters.cycle_url, parameters.soft_off_url, parameters.query_url, parameters.pxe_url]
        guard urls.contains(where: { $0 != nil }) else {
            throw PowerError(.parameters, "a webhook needs at least one of on_url, off_url, cycle_url, soft_off_url, query_url, pxe_url")
        }
        for url in urls.compactMap({ $0 }) {
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw PowerError(.parameters, "webhook URL '\(url)' must start with http:// or https://")
            }
        }
        let method = (parameters.method ?? "POST").uppercased()
        guard Self.methods.contains(method) else { throw PowerError(.parameters, "method must be one of \(Self.methods.joined(separator: ", "))") }
        for template in urls.compactMap({ $0 }) + [parameters.body ?? ""] + Array((parameters.headers ?? [:]).values) {
            _ = try Self.render(template, values: ["system_id": "", "hostname": "", "action": ""])
        }
        for pattern in [parameters.on_pattern, parameters.off_pattern].compactMap({ $0 }) {
            guard (try? Regex(pattern)) != nil else { throw PowerError(.parameters, "pattern '\(pattern)' is not a regular expression") }
        }
        let auth = parameters.username.map { (user: $0, password: parameters.password ?? "") }
        http = BMCHTTP(timeout: timing.timeout, verifyTLS: parameters.verify_tls ?? true, basicAuth: auth)
    }

    func perform(_ action: PowerAction) throws -> PowerOutcome {
        switch action {
        case .query:
            guard let url = parameters.query_url else {
                return PowerOutcome(state: .unknown, message: "webhook: no query_url; the state is not known")
            }
            let response = try call(url, method: "GET", action: action)
            return PowerOutcome(state: try state(of: response), message: "webhook: query answered HTTP \(response.status)")
        case .on:
            return try fire(parameters.on_url, action, state: .on)
        case .off:
            return try fire(parameters.off_url, action, state: .off)
        case .softOff:
            return try fire(parameters.soft_off_url, action, state: .off)
        case .cycle:
            if let url = parameters.cycle_url { return try fire(url, action, state: .on) }
            guard parameters.on_url != nil, parameters.off_url != nil else {
                throw PowerError(.unsupported, "webhook: no cycle_url, and not both on_url and off_url")
            }
            _ = try fire(parameters.off_url, .off, state: .off)
            return try fire(parameters.on_url, .on, state: .on)
        }
    }

    func setNextBootPXE() throws {
        guard let url = parameters.pxe_url else { return }
        _ = try call(url, method: parameters.method ?? "POST", action: nil)
    }

    private func fire(_ url: String?, _ action: PowerAction, state: PowerState) throws -> PowerOutcome {
        guard let url else { throw PowerError(.unsupported, "webhook: no URL for \(action.rawValue)") }
        let response = try call(url, method: (parameters.method ?? "POST").uppercased(), action: action)
        return PowerOutcome(state: state, message: "webhook: \(action.rawValue) answered HTTP \(response.status)")
    }

    private func call(_ urlTemplate: String, method: String, action: PowerAction?) throws -> BMCHTTP.Response {
        let values = ["system_id": context.systemID, "hostname": context.hostname, "action": action?.rawValue ?? "pxe"]
        let url = try Self.render(urlTemplate, values: values)
        var headers: [(String, String)] = []
        for (name, template) in (parameters.headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            headers.append((name, try Self.render(template, values: values)))
        }
        let body = method == "GET" ? nil : Array(try Self.render(parameters.body ?? "", values: values).utf8)
        let response = try PowerDrivers.withRetries(timing.retries) { try http.request(method, url, headers: headers, body: body) }
        let host = URLComponents(string: url)?.host ?? url
        switch response.status {
        case 200..<300: return response
        case 401, 403: throw PowerError(.authentication, "webhook \(host) refused the credentials (HTTP \(response.status))")
        default: throw PowerError(.failed, "webhook \(host) answered HTTP \(response.status)")
        }
    }

    private func state(of response: BMCHTTP.Response) throws -> PowerState {
        let text = response.text
        let on = try Regex(parameters.on_pattern ?? #"(?i)\b(on|running)\b"#)
        let off = try Regex(parameters.off_pattern ?? #"(?i)\b(off|stopped)\b"#)
        if text.contains(on) { return .on }
        if text.contains(off) { return .off }
        return .unknown
    }

    /// `{{name}}` replaced by its value; anything else in braces is an error.
    static func render(_ template: String, values: [String: String]) throws -> String {
        var output = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            output += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw PowerError(.parameters, "a webhook template has {{ without }}")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            guard let value = values[name] else {
                // The template itself is not quoted: a header's may hold a secret.
                throw PowerError(.parameters, "a webhook template names {{\(name)}} (known: \(templateNames.joined(separator: ", ")))")
            }
            output += value
            rest = rest[close.upperBound...]
        }
        return output + rest
    }
}
