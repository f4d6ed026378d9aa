import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Region

/// The REST API (docs/openapi.yaml) for the command line: JSON in and out, the token as a
/// bearer, and the server's `{"error": …}` message as the failure.
struct RegionClient {
    let base: URL
    let token: String

    init(_ configuration: ClientConfiguration) throws {
        var text = configuration.url
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ClientError("\(configuration.url) is not a region URL (http://HOST:5240)")
        }
        base = url
        token = configuration.token
    }

    static func configured() throws -> RegionClient { try RegionClient(ClientConfiguration.load()) }

    /// An answer: decoded, and as the server sent it (what `--json` prints).
    struct Reply {
        var value: JSONValue
        var text: String
    }

    /// The response body of `METHOD /api/v1/PATH`; a non-2xx answer throws the server's message.
    @discardableResult
    func request(_ method: String, _ path: String, query: [(String, String)] = [], body: [String: Any]? = nil) async throws -> Reply {
        guard var components = URLComponents(url: base.appendingPathComponent("api/v1" + path), resolvingAgainstBaseURL: false) else {
            throw ClientError("bad path \(path)")
        }
        if !query.isEmpty { components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) } }
        guard let url = components.url else { throw ClientError("bad path \(path)") }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw ClientError("cannot reach the region at \(base.absoluteString): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else { throw ClientError("no HTTP answer from \(base.absoluteString)") }
        let value = data.isEmpty ? JSONValue.null : (try? JSONDecoder().decode(JSONValue.self, from: data))
        guard (200..<300).contains(http.statusCode) else {
            let message = value?["error"]?.string ?? String(decoding: data.prefix(200), as: UTF8.self)
            throw ClientError("\(method) \(path): \(http.statusCode) \(message)")
        }
        guard let value else { throw ClientError("\(method) \(path): the answer is not JSON") }
        return Reply(value: value, text: String(decoding: data, as: UTF8.self))
    }

    func get(_ path: String, query: [(String, String)] = []) async throws -> Reply { try await request("GET", path, query: query) }
}
