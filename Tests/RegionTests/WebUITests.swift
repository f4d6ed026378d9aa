import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Region

/// The parts of the web UI that need no database: forms, utilisation, templates.
struct WebUIUnitTests {
    @Test func formBodyDecodesEscapesAndKeepsRepeatedFields() {
        let form = FormBody("id=1&id=22&q=web+node%2F1&empty=&flag&bad=%zz%4&csrf=ab%63")
        #expect(form.all("id") == ["1", "22"])
        #expect(form["q"] == "web node/1")
        #expect(form["empty"] == "")
        #expect(form.text("empty") == nil)
        #expect(form["flag"] == "")
        // A malformed escape stays as written rather than failing the request.
        #expect(form["bad"] == "%zz%4")
        #expect(form["csrf"] == "abc")
        #expect(form["missing"] == nil)
        // Bytes that are not UTF-8 do not trap.
        #expect(FormBody("x=%ff%fe")["x"] == "\u{FFFD}\u{FFFD}")
        #expect(FormBody("")["x"] == nil)
    }

    @Test func utilisationPartsDoNotOverlapAndAddUp() throws {
        let usage = try #require(SubnetUtilisation(
            cidr: "198.18.0.0/24",
            ranges: [.init(type: "dynamic", start: "198.18.0.100", end: "198.18.0.199"),
                     .init(type: "reserved", start: "198.18.0.10", end: "198.18.0.19")],
            // Two inside the reserved range (counted once, as static), one outside, one repeated.
            staticAddresses: ["198.18.0.10", "198.18.0.11", "198.18.0.50", "198.18.0.50"]))
        #expect(usage.usable == 254)
        #expect(usage.dynamic == 100)
        #expect(usage.reserved == 8)
        #expect(usage.statics == 3)
        #expect(usage.free == 254 - 100 - 8 - 3)
        #expect(abs(usage.percent(usage.dynamic) - 100.0 / 254.0 * 100) < 0.0001)

        // RFC 3021: a /31 has two usable addresses, a /32 one.
        #expect(SubnetUtilisation(cidr: "198.18.0.0/31", ranges: [], staticAddresses: [])?.usable == 2)
        #expect(SubnetUtilisation(cidr: "198.18.0.1/32", ranges: [], staticAddresses: [])?.usable == 1)
        let v6 = try #require(SubnetUtilisation(
            cidr: "2001:db8::/64", ranges: [.init(type: "dynamic", start: "2001:db8::100", end: "2001:db8::1ff")], staticAddresses: ["2001:db8::1"]))
        #expect(v6.usable == UInt128(1) << 64)
        #expect(v6.dynamic == 256)
        #expect(v6.free == (UInt128(1) << 64) - 257)
        // 2^128 addresses do not fit: the count saturates instead of trapping.
        #expect(SubnetUtilisation(cidr: "::/0", ranges: [.init(type: "dynamic", start: "::", end: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")], staticAddresses: [])?.dynamic == .max)
        #expect(SubnetUtilisation(cidr: "not-a-cidr", ranges: [], staticAddresses: []) == nil)
        #expect(SubnetUtilisation(cidr: "198.18.0.0/33", ranges: [], staticAddresses: []) == nil)
    }

    @Test func everyTemplateParsesAndEscapes() {
        #expect(WebPage.library.getTemplate(named: "layout") != nil)
        for name in WebPage.templates.keys {
            #expect(WebPage.library.getTemplate(named: name) != nil, "template \(name)")
        }
        let html = WebPage.library.render(["status": 500, "message": "<script>alert('x')</script> & \"q\""], withTemplate: "error") ?? ""
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"))
        #expect(!html.contains("<script>"))
    }

    @Test func viewValuesTurnNullsIntoAbsentNotMissingKeys() throws {
        let object = try ViewValues.object(#"{"id": 7, "ip": null, "name": "", "on": true, "ratio": 0.5, "list": [1, null]}"#)
        #expect(object["id"] as? Int == 7)
        #expect(object["ip"] is Absent)
        #expect(object["name"] is Absent)
        #expect(object["on"] as? Bool == true)
        #expect(object["ratio"] as? Double == 0.5)
        // A missing key would print the enclosing object's value of the same name instead.
        let html = WebPage.library.render(["ip": "outer", "interfaces": [object]], withTemplate: "machine") ?? ""
        #expect(!html.contains("outer"))
        #expect(ViewValues.displayTime("2026-11-27T03:12:45.123456+00:00") == "2026-11-27 03:12:45")
        #expect(ViewValues.byteSize(1536) == "1.5 KiB")
        #expect(ViewValues.byteSize(12) == "12 bytes")
        #expect(ViewValues.age(seconds: 75) == "1 min ago")
    }
}

/// The web UI end to end: a real socket, a real PostgreSQL, a browser's requests by hand.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct WebUITests {
    /// A browser: one cookie jar, form posts with the page's CSRF token.
    struct Browser {
        let api: APIClient
        var cookie: String?

        struct Page {
            var status: Int
            var html: String
            var headers: HTTPFields
            var location: String? { headers[.location] }

            /// The CSRF token the page's forms carry.
            var csrf: String? {
                guard let range = html.range(of: #"name="csrf" value=""#) else { return nil }
                return String(html[range.upperBound...].prefix { $0 != "\"" })
            }
        }

        func get(_ path: String) async throws -> Page {
            var headers: HTTPFields = [:]
            if let cookie { headers[.cookie] = "\(WebMiddleware.cookieName)=\(cookie)" }
            let response = try await api.client.execute(uri: path, method: .get, headers: headers, body: nil)
            return Page(status: Int(response.status.code), html: String(buffer: response.body), headers: response.headers)
        }

        func post(_ path: String, _ fields: [(String, String)], origin: String? = nil) async throws -> Page {
            var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            if let cookie { headers[.cookie] = "\(WebMiddleware.cookieName)=\(cookie)" }
            if let origin { headers[.origin] = origin }
            let body = fields.map { "\(MachinePages.percentEncode($0.0))=\(MachinePages.percentEncode($0.1))" }.joined(separator: "&")
            let response = try await api.client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
            return Page(status: Int(response.status.code), html: String(buffer: response.body), headers: response.headers)
        }

        /// Logs in with `token`; returns the login answer.
        mutating func login(_ token: String) async throws -> Page {
            let page = try await post("/ui/login", [("token", token)])
            if let setCookie = page.headers[.setCookie], let value = setCookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last {
                cookie = String(value)
            }
            return page
        }
    }

    @Test func loginSetsAHardenedCookieAndPagesNeedIt() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            var browser = Browser(api: api)
            let anonymous = try await browser.get("/ui/machines")
            #expect(anonymous.status == 303)
            #expect(anonymous.location == "/ui/login")
            #expect(try await browser.get("/").location == "/ui/machines")
            let loginPage = try await browser.get("/ui/login")
            #expect(loginPage.status == 200)
            #expect(loginPage.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(try await browser.get("/ui/static/app.css").status == 200)

            #expect(try await browser.login("rp_not-a-token").status == 401)
            // Another site's page may not log this browser in, whatever the token.
            #expect(try await browser.post("/ui/login", [("token", harness.adminToken)], origin: "http://evil.example").status == 403)
            #expect(browser.cookie == nil)
            let login = try await browser.login(harness.adminToken)
            #expect(login.status == 303)
            #expect(login.location == "/ui/machines")
            let setCookie = try #require(login.headers[.setCookie])
            #expect(setCookie.contains("HttpOnly"))
            #expect(setCookie.contains("SameSite=Strict"))
            #expect(setCookie.contains("Path=/ui"))
            // The database keeps the session id's digest, never the id.
            let cookie = try #require(browser.cookie)
            #expect(try await harness.store.read { try $0.query("SELECT count(*) FROM web_sessions WHERE session_sha256 = $1", [Secrets.sha256Hex(cookie)]).scalar } == "1")
            #expect(try await harness.store.read { try $0.query("SELECT count(*) FROM web_sessions WHERE session_sha256 = $1", [cookie]).scalar } == "0")

            let machines = try await browser.get("/ui/machines")
            #expect(machines.status == 200)
            #expect(machines.html.contains("admin · admin"))
            #expect(machines.csrf?.count == 64)
            for path in ["/ui/subnets", "/ui/ranges", "/ui/leases", "/ui/racks", "/ui/dns", "/ui/boot-resources", "/ui/events", "/ui/machines/new"] {
                #expect(try await browser.get(path).status == 200, "\(path)")
            }
            #expect(try await browser.get("/ui/machines/424242").status == 404)
            let unknown = try await browser.get("/ui/no/such/page")
            #expect(unknown.status == 404)
            #expect(unknown.html.contains("no page /ui/no/such/page"))
            #expect(try await browser.get("/ui").location == "/ui/machines")
            #expect(try await browser.get("/ui/subnets/x").status == 404)
            #expect(try await browser.get("/ui/events?limit=0").status == 400)

            // A made-up cookie is no session.
            var stranger = Browser(api: api, cookie: String(repeating: "a", count: 64))
            #expect(try await stranger.get("/ui/machines").status == 303)
            stranger.cookie = "../../etc/passwd"
            #expect(try await stranger.get("/ui/machines").status == 303)

            // Logging out ends the session in the database, not only in the browser.
            let out = try await browser.post("/ui/logout", [("csrf", machines.csrf ?? "")])
            #expect(out.status == 303)
            #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)
            #expect(try await browser.get("/ui/machines").status == 303)
        }
    }

    @Test func formsNeedTheSessionsCSRFTokenAndASameOrigin() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            var browser = Browser(api: api)
            _ = try await browser.login(harness.adminToken)
            let csrf = try #require(try await browser.get("/ui/machines/new").csrf)
            #expect(try await browser.post("/ui/machines", [("hostname", "node-1")]).status == 403)
            #expect(try await browser.post("/ui/machines", [("hostname", "node-1"), ("csrf", String(repeating: "0", count: 64))]).status == 403)
            #expect(try await browser.post("/ui/machines", [("hostname", "node-1"), ("csrf", csrf)], origin: "http://evil.example").status == 403)
            #expect(try await api.get("/machines").array?.isEmpty == true)
            // Another session's token is no good either.
            var other = Browser(api: api)
            _ = try await other.login(harness.adminToken)
            #expect(try await other.post("/ui/machines", [("hostname", "node-1"), ("csrf", csrf)]).status == 403)
            // Without a session a POST does nothing.
            #expect(try await Browser(api: api).post("/ui/machines", [("hostname", "node-1"), ("csrf", csrf)]).status == 401)

            let created = try await browser.post("/ui/machines", [("hostname", "node-1"), ("csrf", csrf)])
            #expect(created.status == 303)
            #expect(try await api.get("/machines").array?.count == 1)
        }
    }

    @Test func createCommissionAndSeeTheStatusChange() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let network = try await api.makeNetwork()
            var browser = Browser(api: api)
            _ = try await browser.login(harness.adminToken)
            let form = try await browser.get("/ui/machines/new")
            #expect(form.html.contains("198.18.0.0/24"))
            let csrf = try #require(form.csrf)

            // Refusals come back on the form, with what was typed and the database's reason.
            let taken = try await browser.post("/ui/machines", [
                ("csrf", csrf), ("hostname", "node-1"), ("mac", "52:54:00:00:00:01"), ("subnet_id", String(network.subnet)), ("ip", "198.18.1.20"),
            ])
            #expect(taken.status == 422)
            #expect(taken.html.contains("outside the interface&#39;s subnet"))
            #expect(taken.html.contains(#"value="52:54:00:00:00:01""#))
            #expect(try await browser.post("/ui/machines", [("csrf", csrf), ("hostname", "Bad Name")]).status == 422)
            #expect(try await browser.post("/ui/machines", [("csrf", csrf), ("hostname", "x"), ("domain_id", "nope")]).status == 400)
            #expect(try await api.get("/machines").array?.isEmpty == true)

            let created = try await browser.post("/ui/machines", [
                ("csrf", csrf), ("hostname", "node-1"), ("architecture", "arm64"), ("power_type", "ipmi"),
                ("mac", "52:54:00:00:00:01"), ("subnet_id", String(network.subnet)), ("ip", "198.18.0.20"),
            ])
            #expect(created.status == 303)
            let location = try #require(created.location)
            #expect(location.hasPrefix("/ui/machines/"))
            let page = try await browser.get(location)
            #expect(page.html.contains(#"id="machine-status">new<"#))
            #expect(page.html.contains("created node-1"))
            #expect(page.html.contains("198.18.0.20"))
            #expect(page.html.contains("arm64"))
            // The message shows once.
            #expect(!(try await browser.get(location).html.contains("created node-1")))

            let commissioned = try await browser.post(location + "/actions", [("csrf", csrf), ("action", "commission")])
            #expect(commissioned.status == 303)
            let after = try await browser.get(location)
            #expect(after.html.contains(#"id="machine-status">commissioning<"#))
            #expect(after.html.contains("commission: node-1 is now commissioning"))
            let machine = try #require(try await api.get("/machines").array?.first)
            #expect(machine["status"] as? String == "commissioning")
            #expect(machine["boot_purpose"] as? String == "commission")
            // The same event the API records, by the token's user.
            let event = try #require(try await api.get("/events?limit=1").array?.first)
            #expect(event["action"] as? String == "commission")
            #expect(event["actor"] as? String == "admin")

            // What the state does not allow is refused on the page with the API's 409 message.
            let refused = try await browser.post(location + "/actions", [("csrf", csrf), ("action", "deploy")])
            #expect(refused.status == 409)
            #expect(refused.html.contains("cannot deploy a machine that is commissioning"))
            #expect(try await browser.post(location + "/actions", [("csrf", csrf), ("action", "explode")]).status == 400)

            let list = try await browser.get("/ui/machines?status=commissioning")
            #expect(list.html.contains("node-1"))
            #expect(!(try await browser.get("/ui/machines?status=ready").html.contains(">node-1<")))
            #expect(try await browser.get("/ui/machines?q=52:54:00:00:00:01").html.contains(">node-1<"))
            #expect(try await browser.get("/ui/machines?status=bogus").status == 400)
        }
    }

    @Test func bulkActionsApplyToEachMachineAndReportRefusals() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let a = try await api.create("/machines", #"{"hostname": "node-a"}"#)
            let b = try await api.create("/machines", #"{"hostname": "node-b"}"#)
            let c = try await api.create("/machines", #"{"hostname": "node-c"}"#)
            #expect(try await api.post("/machines/\(c)/commission").status == 200)
            #expect(try await api.post("/machines/\(c)/complete").status == 200)
            var browser = Browser(api: api)
            _ = try await browser.login(harness.adminToken)
            let csrf = try #require(try await browser.get("/ui/machines").csrf)

            let bulk = try await browser.post("/ui/machines/bulk", [("csrf", csrf), ("action", "commission"), ("id", String(a)), ("id", String(b))])
            #expect(bulk.status == 303)
            let statuses = try #require(try await api.get("/machines").array).reduce(into: [String: String]()) {
                $0[$1["hostname"] as? String ?? ""] = $1["status"] as? String
            }
            #expect(statuses == ["node-a": "commissioning", "node-b": "commissioning", "node-c": "ready"])
            #expect(try await browser.get("/ui/machines").html.contains("commission: 2 of 2 machines (node-a, node-b)"))

            let deploy = try await browser.post("/ui/machines/bulk", [("csrf", csrf), ("action", "deploy"), ("id", String(a)), ("id", String(c)), ("q", "node")])
            #expect(deploy.location == "/ui/machines?q=node")
            let message = try await browser.get("/ui/machines").html
            #expect(message.contains("deploy: 1 of 2 machines (node-c); refused: node-a: cannot deploy a machine that is commissioning"))
            #expect(try await browser.post("/ui/machines/bulk", [("csrf", csrf), ("action", "mark-broken"), ("id", String(a))]).status == 400)
        }
    }

    @Test func readOnlyTokensSeeButCannotChange() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let machine = try await api.create("/machines", #"{"hostname": "node-1"}"#)
            var browser = Browser(api: api)
            _ = try await browser.login(harness.readOnlyToken)
            let list = try await browser.get("/ui/machines")
            #expect(list.status == 200)
            #expect(list.html.contains("node-1"))
            #expect(!list.html.contains("Add machine"))
            let page = try await browser.get("/ui/machines/\(machine)")
            #expect(!page.html.contains(#"value="commission""#))
            let refused = try await browser.post("/ui/machines/\(machine)/actions", [("csrf", list.csrf ?? ""), ("action", "commission")])
            #expect(refused.status == 403)
            #expect(refused.html.contains("read-only"))
            #expect(try await api.get("/machines/\(machine)").string("status") == "new")
            // Logging out is everybody's.
            #expect(try await browser.post("/ui/logout", [("csrf", list.csrf ?? "")]).status == 303)
        }
    }

    @Test func revokingTheTokenEndsItsSessions() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            #expect(try await api.post("/users", #"{"username": "ops", "role": "admin"}"#).status == 201)
            let created = try await api.post("/tokens", #"{"username": "ops"}"#)
            let token = try #require(created.string("token"))
            var browser = Browser(api: api)
            _ = try await browser.login(token)
            #expect(try await browser.get("/ui/machines").html.contains("ops · admin"))
            #expect(try await api.delete("/tokens/\(try #require(created.int("id")))").status == 204)
            #expect(try await browser.get("/ui/machines").status == 303)
        }
    }

    @Test func pagesShowTheModelEscaped() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let network = try await api.makeNetwork()
            _ = try await api.create("/ranges", #"{"subnet_id": \#(network.subnet), "type": "dynamic", "start_ip": "198.18.0.100", "end_ip": "198.18.0.199"}"#)
            _ = try await api.create("/ranges", #"{"subnet_id": \#(network.subnet), "type": "reserved", "start_ip": "198.18.0.10", "end_ip": "198.18.0.19", "comment": "<b>switches</b>"}"#)
            _ = try await api.create("/machines", #"{"hostname": "node-1", "interfaces": [{"mac": "52:54:00:00:00:01", "subnet_id": \#(network.subnet), "ip": "198.18.0.10"}]}"#)
            let domain = try await api.create("/domains", #"{"name": "lab.example"}"#)
            _ = try await api.create("/records", #"{"domain_id": \#(domain), "name": "txt", "type": "TXT", "value": "<script>alert(1)</script>"}"#)
            let sha = String(repeating: "ab", count: 32)
            _ = try await api.create("/boot-resources", #"{"name": "ubuntu/noble", "architecture": "amd64", "kernel_file": "noble/vmlinuz", "kernel_size": 14680064, "kernel_sha256": "\#(sha)", "initrd_file": "noble/initrd", "initrd_size": 1536, "initrd_sha256": "\#(sha)"}"#)
            // rack-1 (made by makeNetwork) is found, rack-2 created: both are in contact now.
            #expect(try await api.post("/rack/enrol", #"{"name": "rack-1"}"#, token: .rack).status == 200)
            #expect(try await api.post("/rack/enrol", #"{"name": "rack-2"}"#, token: .rack).status == 200)

            var browser = Browser(api: api)
            _ = try await browser.login(harness.adminToken)
            let subnets = try await browser.get("/ui/subnets").html
            // 254 usable: 100 dynamic, 9 reserved (one of the ten is node-1's), 1 static, 144 free.
            #expect(subnets.contains("dynamic 100, reserved 9, static 1, free 144 of 254"))
            #expect(subnets.contains(#"width="39.37""#))
            let subnet = try await browser.get("/ui/subnets/\(network.subnet)").html
            #expect(subnet.contains("&lt;b&gt;switches&lt;/b&gt;"))
            #expect(subnet.contains("node-1"))
            let dns = try await browser.get("/ui/dns").html
            #expect(dns.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!dns.contains("<script>alert"))
            #expect(dns.contains("txt.lab.example"))
            let boot = try await browser.get("/ui/boot-resources").html
            #expect(boot.contains("14.0 MiB"))
            #expect(boot.contains(sha))
            // The enrolment counts as contact.
            let racks = try await browser.get("/ui/racks").html
            #expect(racks.components(separatedBy: #"class="health health-ok""#).count == 3)
            #expect(racks.contains("rack-1"))
            let events = try await browser.get("/ui/events").html
            #expect(events.contains("login"))
            #expect(events.contains("enrol"))
        }
    }
}
