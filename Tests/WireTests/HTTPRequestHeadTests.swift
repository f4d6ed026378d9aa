import Testing
@testable import Wire

private func text(_ view: UnsafeRawBufferPointer) -> String { String(decoding: view, as: UTF8.self) }

private func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.utf8.makeIterator()
    while let hi = it.next(), let lo = it.next() {
        out.append(UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16)!)
    }
    return out
}

private enum Outcome: Equatable {
    case incomplete
    case complete(length: Int)
    case failed(WireError)
}

private func outcome(_ bytes: [UInt8], limits: HTTPHeadLimits = HTTPHeadLimits()) -> Outcome {
    bytes.withUnsafeBytes { raw in
        do throws(WireError) {
            switch try HTTPRequestHead.parse(raw, limits: limits) {
            case .incomplete: return .incomplete
            case .complete(let head): return .complete(length: head.length)
            }
        } catch {
            return .failed(error)
        }
    }
}

private func outcome(_ s: String, limits: HTTPHeadLimits = HTTPHeadLimits()) -> Outcome { outcome(Array(s.utf8), limits: limits) }

/// Runs `body` with the complete head parsed from `s`; records an issue otherwise.
private func withHead(_ s: String, _ body: (HTTPRequestHead) throws -> Void) {
    Array(s.utf8).withUnsafeBytes { raw in
        guard case .complete(let head)? = try? HTTPRequestHead.parse(raw) else {
            Issue.record("no complete head in \(s.debugDescription)")
            return
        }
        do { try body(head) } catch { Issue.record(error) }
    }
}

/// The error a typed accessor throws for the head in `s`, or nil.
private func accessorError(_ s: String, _ access: (HTTPRequestHead) throws -> Void) -> WireError? {
    var result: WireError?
    withHead(s) { head in
        do { try access(head) } catch let error as WireError { result = error }
    }
    return result
}

// iPXE's GET, pxe/ipxe-boot.pcap frame 38.
private let ipxeGet = hexBytes(
    "474554202f766d6c696e757a20485454502f312e310d0a436f6e6e656374696f6e3a206b6565702d616c6976650d0a557365722d4167656e743a20695058452f312e302e302b6769742d32303139303132352e333661346338352d352e310d0a486f73743a203139382e31382e302e313a383038300d0a0d0a")

// tcpdump/ipv4_tcp_http_xml_tso.pcap: the head of a SOAP POST through a proxy, then its body.
private let soapPost = """
    POST http://gwm-ml-a2.wsodqa.com//research/module-loader/module-loader.asp?user_id=test HTTP/1.1\r
    Content-Type: text/xml; charset=utf-8\r
    SOAPAction: ""\r
    User-Agent: Axis/1.4-LISA\r
    lisaFrameRoot: true\r
    lisaFrameRemoteIP: 169.254.169.30\r
    lisaFrameID: 3ae1f0b0-0293-11e2-aa16-78e7d164f804\r
    Host: gwm-ml-a2.wsodqa.com\r
    Proxy-Connection: Keep-Alive\r
    Content-Length: 1607\r
    \r
    <?xml version="1.0" encoding="utf-8"?><soap:Envelope
    """

@Suite struct HTTPRequestHeadTests {
    // MARK: Real captures

    @Test func ipxeGetFromCapture() throws {
        try ipxeGet.withUnsafeBytes { raw in
            guard case .complete(let head) = try HTTPRequestHead.parse(raw) else { Issue.record("incomplete"); return }
            #expect(head.length == ipxeGet.count)
            #expect(head.method == .get)
            #expect(text(head.methodBytes) == "GET")
            #expect(text(head.target) == "/vmlinuz")
            #expect(head.version == .http1_1)
            #expect(head.headerCount == 3)
            #expect(head.headers.map { text($0.name) } == ["Connection", "User-Agent", "Host"])
            #expect(text(head.headers.first(named: "user-agent")!) == "iPXE/1.0.0+git-20190125.36a4c85-5.1")
            #expect(text(try head.host()!) == "198.18.0.1:8080")
            #expect(head.connection == .keepAlive)
            #expect(head.isPersistent)
            #expect(try head.contentLength() == nil)
            #expect(try head.range() == nil)
        }
    }

    @Test func soapPostFromCaptureLeavesBody() throws {
        let bytes = Array(soapPost.utf8)
        try bytes.withUnsafeBytes { raw in
            guard case .complete(let head) = try HTTPRequestHead.parse(raw) else { Issue.record("incomplete"); return }
            #expect(head.method == .post)
            #expect(text(head.target).hasPrefix("http://gwm-ml-a2.wsodqa.com//research/"))
            #expect(head.headerCount == 9)
            #expect(try head.contentLength() == 1607)
            #expect(text(UnsafeRawBufferPointer(rebasing: raw[head.length...])).hasPrefix("<?xml"))
            #expect(text(head.headers.first(named: "soapaction")!) == "\"\"")
        }
    }

    @Test func responseIsNotARequest() {
        // tcpdump/ipv4_tcp_http_xml.pcap starts "HTTP/1.1 200 OK": "/" is not a token character.
        #expect(outcome("HTTP/1.1 200 OK\r\n\r\n") == .failed(WireError(.invalidValue, "http.request.method", at: 4)))
    }

    // MARK: Incremental and pipelined

    @Test func everyPrefixIsIncomplete() {
        for n in 0..<ipxeGet.count {
            #expect(outcome(Array(ipxeGet[0..<n])) == .incomplete, "prefix \(n)")
        }
        #expect(outcome(ipxeGet) == .complete(length: ipxeGet.count))
    }

    @Test func pipelinedRequestsFollowEachOther() throws {
        let second = "GET /initrd.gz HTTP/1.1\r\nHost: h\r\nRange: bytes=0-9\r\n\r\n"
        let third = "HEAD / HTTP/1.0\r\n\r\n"
        let all = ipxeGet + Array(second.utf8) + Array(third.utf8) + Array("GET /par".utf8)
        var offset = 0
        var targets: [String] = []
        try all.withUnsafeBytes { raw in
            while true {
                let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
                guard case .complete(let head) = try HTTPRequestHead.parse(rest) else { break }
                targets.append(text(head.target))
                offset += head.length
            }
        }
        #expect(targets == ["/vmlinuz", "/initrd.gz", "/"])
        #expect(offset == all.count - 8)
    }

    @Test func leadingEmptyLinesAreSkipped() throws {
        #expect(outcome("\r\n\r\nGET / HTTP/1.1\r\n\r\n") == .complete(length: 22))
        #expect(outcome("\r\n") == .incomplete)
        #expect(outcome("\r") == .incomplete)
        #expect(outcome("\r\r") == .failed(WireError(.invalidValue, "http.request.line", at: 1)))
        withHead("\r\nGET /x HTTP/1.0\r\n\r\n") { head in
            #expect(text(head.target) == "/x")
            #expect(head.version == .http1_0)
            #expect(head.headerCount == 0)
            #expect(Array(head.headers).isEmpty)
        }
    }

    // MARK: Request line

    @Test func requestLineErrors() {
        #expect(outcome("G@T / HTTP/1.1\r\n\r\n") == .failed(WireError(.invalidValue, "http.request.method", at: 1)))
        #expect(outcome(" / HTTP/1.1\r\n\r\n") == .failed(WireError(.invalidValue, "http.request.method", at: 0)))
        #expect(outcome("GET  / HTTP/1.1\r\n\r\n") == .failed(WireError(.invalidValue, "http.request.target", at: 4)))
        #expect(outcome("GET /a\tb HTTP/1.1\r\n\r\n") == .failed(WireError(.invalidValue, "http.request.target", at: 6)))
        #expect(outcome("GET /\u{7F} HTTP/1.1\r\n\r\n") == .failed(WireError(.invalidValue, "http.request.target", at: 5)))
        #expect(outcome("GET /é HTTP/1.1\r\n\r\n") == .failed(WireError(.invalidValue, "http.request.target", at: 5)))
        for bad in ["HTTP/2.0", "HTTP/1.2", "http/1.1", "HTTP/1.10", "HTTP/1"] {
            #expect(outcome("GET / \(bad)\r\n\r\n") == .failed(WireError(.invalidValue, "http.request.version", at: 6)), "\(bad)")
        }
        // Bare LF (RFC 9112 §2.2 MAY accept; we do not).
        #expect(outcome("GET / HTTP/1.1\n\n") == .failed(WireError(.invalidValue, "http.request.version", at: 6)))
        #expect(outcome("GET / HTTP/1.1\r\r") == .failed(WireError(.invalidValue, "http.request.line", at: 15)))
    }

    @Test func methodsAreCaseSensitive() {
        withHead("get / HTTP/1.1\r\n\r\n") { h throws in #expect(h.method == .other) }
        withHead("PURGE / HTTP/1.1\r\n\r\n") { h throws in #expect(h.method == .other) }
        withHead("HEAD * HTTP/1.1\r\n\r\n") { head in
            #expect(head.method == .head)
            #expect(text(head.target) == "*")
        }
    }

    // MARK: Header lines

    @Test func headerLineErrors() {
        let line = "GET / HTTP/1.1\r\n"  // 16 bytes
        #expect(outcome(line + "Host : a\r\n\r\n") == .failed(WireError(.invalidValue, "http.header.name", at: 20)))
        #expect(outcome(line + ": a\r\n\r\n") == .failed(WireError(.invalidValue, "http.header.name", at: 16)))
        #expect(outcome(line + "Ho(st: a\r\n\r\n") == .failed(WireError(.invalidValue, "http.header.name", at: 18)))
        #expect(outcome(line + "Host: a\r\n b\r\n\r\n") == .failed(WireError(.invalidValue, "http.header.obs_fold", at: 25)))
        #expect(outcome(line + "Host: a\r\n\tb\r\n\r\n") == .failed(WireError(.invalidValue, "http.header.obs_fold", at: 25)))
        #expect(outcome(line + " Host: a\r\n\r\n") == .failed(WireError(.invalidValue, "http.header.leading_whitespace", at: 16)))
        #expect(outcome(line + "Host: a\nX: b\r\n\r\n") == .failed(WireError(.invalidValue, "http.header.value", at: 23)))
        #expect(outcome(line + "Host: a\rX: b\r\n\r\n") == .failed(WireError(.invalidValue, "http.header.line", at: 24)))
        #expect(outcome(line + "Host: a\u{0}b\r\n\r\n") == .failed(WireError(.invalidValue, "http.header.value", at: 23)))
        #expect(outcome(line + "Host: a\r\n\r\r") == .failed(WireError(.invalidValue, "http.header.line", at: 26)))
        #expect(outcome(line + "Host: a\r\n\n") == .failed(WireError(.invalidValue, "http.header.name", at: 25)))
        // A field name without a colon is still incomplete until something else shows.
        #expect(outcome(line + "Host") == .incomplete)
    }

    @Test func headerValuesAreTrimmedAndLookupIgnoresCase() {
        withHead("GET / HTTP/1.1\r\nX-A:\t v1 \t\r\nx-a: v2\r\nEmpty:\r\nOther: \u{80}\u{FF}\r\n\r\n") { head in
            #expect(head.headerCount == 4)
            #expect(text(head.headers.first(named: "X-A")!) == "v1")
            #expect(head.headers.fields(named: "x-A").map { text($0.value) } == ["v1", "v2"])
            #expect(head.headers.count(named: "X-a") == 2)
            #expect(head.headers.first(named: "empty")!.isEmpty)
            #expect(head.headers.first(named: "Missing") == nil)
            #expect(Array(head.headers.first(named: "other")!) == [0xC2, 0x80, 0xC3, 0xBF])
        }
    }

    // MARK: Limits

    @Test func headSizeLimit() {
        let limits = HTTPHeadLimits(maxHeadSize: 64, maxHeaderCount: 100)
        let start = "GET / HTTP/1.1\r\nX: "  // 19 bytes; + value + "\r\n\r\n"
        let fits = start + String(repeating: "a", count: 64 - 19 - 4) + "\r\n\r\n"
        let over = start + String(repeating: "a", count: 64 - 19 - 3) + "\r\n\r\n"
        #expect(fits.utf8.count == 64)
        #expect(outcome(fits, limits: limits) == .complete(length: 64))
        #expect(outcome(over, limits: limits) == .failed(WireError(.limitExceeded, "http.head.size", at: 64)))
        // Short of the limit an unfinished head waits; at the limit it is refused.
        #expect(outcome(String(over.utf8.prefix(63))!, limits: limits) == .incomplete)
        #expect(outcome(String(over.utf8.prefix(64))!, limits: limits) == .failed(WireError(.limitExceeded, "http.head.size", at: 64)))
        // Bytes after a complete head (a body, the next request) do not count against it.
        #expect(outcome(fits + String(repeating: "b", count: 1000), limits: limits) == .complete(length: 64))
        // The default is 8 KiB.
        let big = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 8192) + "\r\n\r\n"
        #expect(outcome(big) == .failed(WireError(.limitExceeded, "http.head.size", at: 8192)))
    }

    @Test func headerCountLimit() {
        func head(_ n: Int) -> String {
            "GET / HTTP/1.1\r\n" + (0..<n).map { "H\($0): v\r\n" }.joined() + "\r\n"
        }
        if case .complete = outcome(head(100)) {} else { Issue.record("100 headers refused") }
        let offsetOf101st = 16 + (0..<100).map { "H\($0): v\r\n".utf8.count }.reduce(0, +)
        #expect(outcome(head(101)) == .failed(WireError(.limitExceeded, "http.header.count", at: offsetOf101st)))
        #expect(outcome(head(3), limits: HTTPHeadLimits(maxHeaderCount: 2)) == .failed(WireError(.limitExceeded, "http.header.count", at: 30)))
    }

    // MARK: Typed fields

    @Test func contentLength() {
        withHead("POST / HTTP/1.1\r\nContent-Length: 42, 42\r\ncontent-length: 42\r\n\r\n") { h throws in #expect(try h.contentLength() == 42) }
        withHead("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n") { h throws in #expect(try h.contentLength() == 0) }
        #expect(accessorError("POST / HTTP/1.1\r\nContent-Length: 42, 43\r\n\r\n") { _ = try $0.contentLength() }
            == WireError(.invalidValue, "http.header.content_length", at: 37))
        #expect(accessorError("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") { _ = try $0.contentLength() }
            == WireError(.invalidValue, "http.header.content_length", at: 52))
        for bad in ["-1", "+1", "1e3", "0x10", "", "18446744073709551616"] {
            #expect(accessorError("POST / HTTP/1.1\r\nContent-Length: \(bad)\r\n\r\n") { _ = try $0.contentLength() }?.field.description
                == "http.header.content_length", "\(bad)")
        }
    }

    @Test func host() {
        withHead("GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n") { h throws in #expect(text(try h.host()!) == "[2001:db8::1]:8080") }
        withHead("GET / HTTP/1.1\r\nHost:\r\n\r\n") { h throws in #expect(try h.host()?.isEmpty == true) }
        withHead("GET / HTTP/1.0\r\n\r\n") { h throws in #expect(try h.host() == nil) }
        #expect(accessorError("GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n") { _ = try $0.host() }
            == WireError(.invalidValue, "http.header.host", at: 25))
        #expect(accessorError("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") { _ = try $0.host() }
            == WireError(.invalidValue, "http.header.host", at: 16))
        #expect(accessorError("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") { _ = try $0.host() }
            == WireError(.invalidValue, "http.header.host", at: 16))
    }

    @Test func connectionAndPersistence() {
        withHead("GET / HTTP/1.1\r\n\r\n") { h throws in #expect(h.connection == [] && h.isPersistent) }
        withHead("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n") { h throws in #expect(h.connection == .close && !h.isPersistent) }
        withHead("GET / HTTP/1.0\r\n\r\n") { h throws in #expect(!h.isPersistent) }
        withHead("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") { h throws in #expect(h.isPersistent) }
        withHead("GET / HTTP/1.0\r\nConnection: foo, ,keep-alive\r\nConnection: close\r\n\r\n") { head in
            #expect(head.connection == [.keepAlive, .close])
            #expect(!head.isPersistent)
        }
        withHead("GET / HTTP/1.1\r\nConnection: Upgrade, keep-alivex\r\n\r\n") { h throws in #expect(h.connection == .upgrade) }
    }

    // MARK: Dates

    @Test func httpDateAllThreeFormats() {
        let expected: Int64 = 784_111_777  // RFC 9110 §5.6.7's example instant
        for form in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            withHead("GET / HTTP/1.1\r\nIf-Modified-Since: \(form)\r\n\r\n") { head throws in
                #expect(try head.ifModifiedSince() == expected, "\(form)")
            }
        }
        // asctime with a two-digit day.
        #expect(Array("Thu Nov 10 08:49:37 1994".utf8).withUnsafeBytes { HTTPDate.parse($0) } == expected + 4 * 86400)
    }

    @Test func rfc850TwoDigitYears() {
        func parse(_ s: String, now: Int64?) -> Int64? { Array(s.utf8).withUnsafeBytes { HTTPDate.parse($0, now: now) } }
        let now2025: Int64 = 1_750_000_000  // June 2025
        // 94 → 2094 is more than 50 years ahead of 2025, so 1994.
        #expect(parse("Sunday, 06-Nov-94 08:49:37 GMT", now: now2025) == 784_111_777)
        // 30 → 2030 is within 50 years, so 2030: 2030-01-01 is a Tuesday.
        #expect(parse("Tuesday, 01-Jan-30 00:00:00 GMT", now: now2025) == 1_893_456_000)
        #expect(parse("Tuesday, 01-Jan-30 00:00:00 GMT", now: nil) == 1_893_456_000)
        #expect(parse("Thursday, 01-Jan-70 00:00:00 GMT", now: nil) == 0)
    }

    @Test func invalidDates() {
        for bad in [
            "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 nov 1994 08:49:37 GMT", "sun, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:61 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT ", "Sunday, 06-Nov-1994 08:49:37 GMT", "Sund, 06-Nov-94 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49:37 94", "", "784111777",
        ] {
            #expect(Array(bad.utf8).withUnsafeBytes { HTTPDate.parse($0) } == nil, "\(bad)")
        }
        // Leap day and leap second are real dates; a leap second reads as :59 (POSIX time), so
        // 9999-12-31 23:59:60 stays in a year the writer accepts.
        #expect(Array("Tue, 29 Feb 2000 00:00:00 GMT".utf8).withUnsafeBytes { HTTPDate.parse($0) } == 951_782_400)
        #expect(Array("Sat, 31 Dec 2016 23:59:60 GMT".utf8).withUnsafeBytes { HTTPDate.parse($0) } == 1_483_228_799)
        #expect(Array("Fri, 31 Dec 9999 23:59:60 GMT".utf8).withUnsafeBytes { HTTPDate.parse($0) } == 253_402_300_799)
        #expect(accessorError("GET / HTTP/1.1\r\nIf-Modified-Since: yesterday\r\n\r\n") { _ = try $0.ifModifiedSince() }
            == WireError(.invalidValue, "http.header.if_modified_since", at: 35))
        #expect(accessorError("GET / HTTP/1.1\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n") {
            _ = try $0.ifModifiedSince()
        }?.field.description == "http.header.if_modified_since")
    }
}
