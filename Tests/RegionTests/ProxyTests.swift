import Foundation
import Testing
@testable import Region

/// The squid.conf the region writes: who may use the proxy.
struct SquidConfigurationTests {
    let directory = "/var/lib/rackplane-region/proxy"

    @Test func managedSubnetsAreTheOnlyClientsAllowed() {
        let configuration = SquidConfiguration(
            directory: directory, subnets: ["198.18.8.0/22", "198.18.0.0/24", "2001:db8::/64", "198.18.0.0/24"])
        #expect(configuration.accessRules == [
            "acl managed src 198.18.0.0/24",
            "acl managed src 198.18.8.0/22",
            "acl managed src 2001:db8::/64",
            "acl SSL_ports port 443",
            "acl Safe_ports port 80 443 21 1025-65535",
            "acl CONNECT method CONNECT",
            "http_access deny !Safe_ports",
            "http_access deny CONNECT !SSL_ports",
            "http_access deny to_localhost",
            "http_access allow managed",
            "http_access deny all",
        ])
    }

    /// squid refuses an acl without values: no subnets means no `managed` acl and nobody served.
    @Test func noSubnetsServesNobody() {
        let rules = SquidConfiguration(directory: directory, subnets: []).accessRules
        #expect(!rules.contains { $0.contains("managed") })
        #expect(rules.last == "http_access deny all")
        #expect(rules.filter { $0.hasPrefix("http_access allow") }.isEmpty)
    }

    @Test func localhostOnlyWhenTheOperatorSaysSo() {
        let without = SquidConfiguration(directory: directory, subnets: ["198.18.0.0/24"]).accessRules
        #expect(!without.contains { $0.contains("127.0.0.0/8") })
        let with = SquidConfiguration(directory: directory, allowLocalhost: true, subnets: ["198.18.0.0/24"]).accessRules
        #expect(with.contains("acl region_host src 127.0.0.0/8 ::1"))
        #expect(Array(with.suffix(3)) == ["http_access allow managed", "http_access allow region_host", "http_access deny all"])
    }

    /// The same set of subnets in another order or with repeats is the same file: the region
    /// reconfigures squid only when this changes.
    @Test func orderAndRepeatsDoNotChangeTheFile() {
        let one = SquidConfiguration(directory: directory, subnets: ["198.18.1.0/24", "198.18.0.0/24"])
        let other = SquidConfiguration(directory: directory, subnets: ["198.18.0.0/24", "198.18.1.0/24", "198.18.1.0/24"])
        #expect(one.render() == other.render())
    }

    /// Nothing outside the state directory: the region's user owns all squid writes.
    @Test func everyPathSquidWritesIsUnderTheDirectory() {
        let text = SquidConfiguration(directory: directory, port: 3142, cacheMegabytes: 2048).render()
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("http_port 3142"))
        #expect(lines.contains("cache_dir ufs \(directory)/cache 2048 16 256"))
        for key in ["pid_filename", "cache_log", "access_log", "coredump_dir"] {
            let line = lines.first { $0.hasPrefix(key + " ") }
            #expect(line?.contains(directory + "/") == true, "\(key): \(line ?? "missing")")
        }
        #expect(lines.contains("netdb_filename none"))
        #expect(lines.contains("cache_store_log none"))
    }
}

/// The URL machines are given.
struct ProxyAdvertisementTests {
    let advertisement = ProxyAdvertisement(enabled: true, port: 8000, url: nil, listenHost: "0.0.0.0")

    @Test func theHostThatReachedTheAPIWithTheProxysPort() {
        #expect(advertisement.url(authority: "198.18.0.2:5240") == "http://198.18.0.2:8000/")
        #expect(advertisement.url(authority: "region.example") == "http://region.example:8000/")
        #expect(advertisement.url(authority: "[2001:db8::2]:5240") == "http://[2001:db8::2]:8000/")
    }

    @Test func theListenAddressWhenNoHostIsNamed() {
        let listening = ProxyAdvertisement(enabled: true, port: 8000, url: nil, listenHost: "2001:db8::2")
        #expect(listening.url(authority: nil) == "http://[2001:db8::2]:8000/")
    }

    @Test func theOperatorsURLWins() {
        let configured = ProxyAdvertisement(enabled: true, port: 8000, url: "http://proxy.example:3128/", listenHost: "0.0.0.0")
        #expect(configured.url(authority: "198.18.0.2:5240") == "http://proxy.example:3128/")
    }

    @Test func noneWhileSquidIsDown() {
        let down = ProxyAdvertisement(enabled: true, port: 8000, url: "http://proxy.example:3128/", listenHost: "0.0.0.0",
                                      serving: { false })
        #expect(down.url(authority: "198.18.0.2:5240") == nil)
        #expect(ProxyRoutes.settings(url: down.url(authority: "198.18.0.2:5240")).enabled == false)
    }

    @Test func noneWhenOff() {
        #expect(ProxyAdvertisement.off.url(authority: "198.18.0.2:5240") == nil)
    }
}

/// `GET /api/v1/machines/{id}/proxy`.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct MachineProxyAPITests {
    @Test func aMachineGetsTheProxyAndItsCloudConfig() async throws {
        let harness = try await RegionHarness.make()
        let advertisement = ProxyAdvertisement(enabled: true, port: 8000, url: "http://198.18.0.2:8000/", listenHost: "0.0.0.0")
        try await harness.run(proxy: advertisement) { api in
            let network = try await api.makeNetwork()
            let machine = try await api.create("/machines", #"{"hostname": "node-1", "interfaces": [{"mac": "52:54:00:00:00:01", "subnet_id": \#(network.subnet)}]}"#)
            let reply = try await api.get("/machines/\(machine)/proxy")
            #expect(reply.status == 200)
            #expect(reply.object?["enabled"] as? Bool == true)
            #expect(reply.string("http_proxy") == "http://198.18.0.2:8000/")
            #expect(reply.string("cloud_config") == "#cloud-config\napt:\n  http_proxy: http://198.18.0.2:8000/\n  https_proxy: http://198.18.0.2:8000/\n")
            #expect(reply.string("preseed") == "d-i mirror/http/proxy string http://198.18.0.2:8000/\n")
            let readOnly = try await api.get("/machines/\(machine)/proxy", token: .readOnly)
            #expect(readOnly.status == 200)
            let missing = try await api.get("/machines/4242/proxy")
            #expect(missing.status == 404)
            #expect(missing.error?.contains("4242") == true)
            #expect(try await api.get("/machines/x/proxy").status == 404)
            #expect(try await api.send(.get, "/api/v1/machines/\(machine)/proxy", token: .none).status == 401)
        }
    }

    @Test func withoutTheProxyMachinesAreToldSo() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let network = try await api.makeNetwork()
            let machine = try await api.create("/machines", #"{"hostname": "node-1", "interfaces": [{"mac": "52:54:00:00:00:01", "subnet_id": \#(network.subnet)}]}"#)
            let reply = try await api.get("/machines/\(machine)/proxy")
            #expect(reply.status == 200)
            #expect(reply.text == #"{"cloud_config":null,"enabled":false,"http_proxy":null,"preseed":null}"#)
        }
    }
}

extension SquidConfigurationTests {
    /// squid's -n takes letters and digits only; each state directory gets its own.
    @Test func theServiceNameIsAlphanumericAndOnePerDirectory() {
        let one = SquidConfiguration(directory: "/var/lib/rackplane-region/proxy").serviceName
        let other = SquidConfiguration(directory: "/tmp/rackplane-region-x/region/proxy").serviceName
        #expect(one.count == "rackplane".count + 8)
        #expect(one.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(one != other)
        #expect(one == SquidConfiguration(directory: "/var/lib/rackplane-region/proxy", port: 1).serviceName)
    }
}
