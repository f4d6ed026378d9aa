import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
@testable import Region

/// A region API on a real socket (127.0.0.1, a free port) over a fresh database, with an admin
/// token, a read-only token and the rack secret.
struct RegionHarness {
    let connectionString: String
    let store: RegionStore
    let adminToken: String
    let readOnlyToken: String
    let rackSecret: String
    let metrics = RegionMetrics()

    static func make() async throws -> RegionHarness {
        let connectionString = try TestPostgres.migratedDatabase()
        let store = RegionStore(pool: PostgresPool(connectionString: connectionString, maximumConnections: 4))
        guard let admin = try await store.bootstrapAdmin() else { throw HarnessError("no admin token on a new database") }
        let readOnly = try await store.pool.withConnection { connection in
            let user = try connection.query("INSERT INTO users (username, role) VALUES ('viewer', 'read-only') RETURNING id").scalar ?? ""
            return try RegionStore.insertToken(on: connection, userID: user, description: "test").token
        }
        return RegionHarness(
            connectionString: connectionString, store: store, adminToken: admin, readOnlyToken: readOnly,
            rackSecret: try await store.rackSecret())
    }

    /// Runs `body` against the API; with `compiler`, the LISTEN/NOTIFY compiler runs beside it;
    /// `proxy` is what the API says about the caching proxy.
    func run<T: Sendable>(compiler: CompilerService? = nil, proxy: ProxyAdvertisement = .off, _ body: @escaping @Sendable (APIClient) async throws -> T) async throws -> T {
        var logger = Logger(label: "region-test")
        logger.logLevel = .warning
        var app = Application(
            router: RegionAPI.router(store: store, rackSecret: rackSecret, metrics: metrics, announcer: compiler?.announcer ?? TablesAnnouncer(),
                                   recentSnapshots: compiler?.recentSnapshots ?? RecentSnapshots(), proxy: proxy),
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            logger: logger)
        if let compiler { app.addServices(compiler) }
        let admin = adminToken, readOnly = readOnlyToken, secret = rackSecret
        return try await app.test(.live) { client in
            try await body(APIClient(client: client, adminToken: admin, readOnlyToken: readOnly, rackSecret: secret))
        }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Requests with JSON in and out, and the token chosen per call.
struct APIClient: Sendable {
    let client: any TestClientProtocol
    let adminToken: String
    let readOnlyToken: String
    let rackSecret: String

    enum Token {
        case admin, readOnly, rack, none
        case raw(String)
    }

    struct Reply {
        var status: Int
        var text: String
        var headers: HTTPFields
        var bytes: [UInt8]

        /// The body as a JSON object (nil if it is not one).
        var object: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] }
        var array: [[String: Any]]? { (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [[String: Any]] }
        var error: String? { object?["error"] as? String }
        func int(_ field: String) -> Int? { (object?[field] as? NSNumber)?.intValue }
        func string(_ field: String) -> String? { object?[field] as? String }
    }

    func send(_ method: HTTPRequest.Method, _ path: String, token: Token = .admin, body: String? = nil, bodyBytes: ByteBuffer? = nil) async throws -> Reply {
        var headers: HTTPFields = [:]
        switch token {
        case .admin: headers[.authorization] = "Bearer \(adminToken)"
        case .readOnly: headers[.authorization] = "Bearer \(readOnlyToken)"
        case .rack: headers[.authorization] = "Rack \(rackSecret)"
        case .raw(let value): headers[.authorization] = value
        case .none: break
        }
        if body != nil || bodyBytes != nil { headers[.contentType] = "application/json" }
        let buffer = bodyBytes ?? body.map { ByteBuffer(string: $0) }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: buffer)
        let bytes = Array(response.body.readableBytesView)
        return Reply(status: Int(response.status.code), text: String(decoding: bytes, as: UTF8.self), headers: response.headers, bytes: bytes)
    }

    func get(_ path: String, token: Token = .admin) async throws -> Reply { try await send(.get, "/api/v1" + path, token: token) }
    func post(_ path: String, _ body: String? = nil, token: Token = .admin) async throws -> Reply { try await send(.post, "/api/v1" + path, token: token, body: body) }
    func put(_ path: String, _ body: String, token: Token = .admin) async throws -> Reply { try await send(.put, "/api/v1" + path, token: token, body: body) }
    func delete(_ path: String, token: Token = .admin) async throws -> Reply { try await send(.delete, "/api/v1" + path, token: token) }

    /// Creates and returns the new object's id, failing the test's precondition loudly otherwise.
    func create(_ path: String, _ body: String) async throws -> Int {
        let reply = try await post(path, body)
        guard reply.status == 201, let id = reply.int("id") else { throw HarnessError("POST \(path) \(body): \(reply.status) \(reply.text)") }
        return id
    }

    /// A fabric, a rack, a VLAN served by that rack, and subnet 198.18.0.0/24 on it.
    func makeNetwork() async throws -> (rack: Int, vlan: Int, subnet: Int) {
        let fabric = try await create("/fabrics", #"{"name": "fabric-0"}"#)
        let rack = try await create("/racks", #"{"name": "rack-1"}"#)
        let vlan = try await create("/vlans", #"{"fabric_id": \#(fabric), "vid": 10, "dhcp_on": true, "primary_rack_id": \#(rack)}"#)
        let subnet = try await create("/subnets", #"{"vlan_id": \#(vlan), "cidr": "198.18.0.0/24", "gateway": "198.18.0.1", "dns_servers": ["198.18.0.1"]}"#)
        return (rack, vlan, subnet)
    }
}
