import Testing
@testable import Responders
import Wire

// MARK: Helpers

/// A request head from lines (CRLF added), parsed and handed to `body`.
func withHTTPHead<R>(_ requestLine: String = "GET /images/vmlinuz HTTP/1.1", _ fields: [String] = [],
                     _ body: (HTTPRequestHead) throws -> R) throws -> R {
    let text = ([requestLine, "Host: 198.18.0.1:5248"] + fields).joined(separator: "\r\n") + "\r\n\r\n"
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBytes { raw in
        guard case .complete(let head) = try HTTPRequestHead.parse(raw) else { fatalError("incomplete head") }
        return try body(head)
    }
}

/// A head from raw text, without the Host line added.
func withRawHTTPHead<R>(_ text: String, _ body: (HTTPRequestHead) throws -> R) throws -> R {
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBytes { raw in
        guard case .complete(let head) = try HTTPRequestHead.parse(raw) else { fatalError("incomplete head") }
        return try body(head)
    }
}

let sampleFile = HTTPFileMetadata(size: 10_000, inode: 0x1234, modifiedSeconds: 1_700_000_000, modifiedNanoseconds: 5)
let sampleNow: Int64 = 1_800_000_000

func verdict(_ fields: [String], method: String = "GET", file: HTTPFileMetadata = sampleFile, now: Int64 = sampleNow) throws -> HTTPFileVerdict {
    try withHTTPHead("\(method) /f HTTP/1.1", fields) { HTTPFilePolicy.evaluate($0, file: file, now: now) }
}

func httpDate(_ seconds: Int64) -> String {
    var bytes = [UInt8](repeating: 0, count: HTTPDate.length)
    bytes.withUnsafeMutableBytes { buffer in
        var writer = WireWriter(buffer)
        try! HTTPDate.write(seconds, into: &writer)
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The head `writeHead` produces, as text, and the body it asks for.
func fileResponse(_ verdict: HTTPFileVerdict, method: HTTPMethod = .get, file: HTTPFileMetadata = sampleFile,
                  persistent: Bool = true, contentType: StaticString = "application/octet-stream") throws -> (String, HTTPFileBody) {
    var buffer = [UInt8](repeating: 0, count: 2048)
    return try buffer.withUnsafeMutableBytes { raw in
        var writer = WireWriter(raw)
        let body = try HTTPFilePolicy.writeHead(verdict, method: method, file: file, contentType: contentType,
                                                now: sampleNow, persistent: persistent, into: &writer)
        return (String(decoding: writer.written, as: UTF8.self), body)
    }
}

// MARK: Validators

@Suite struct HTTPFileValidatorTests {
    @Test func entityTagIsHexOfInodeSizeAndNanosecondMtime() {
        #expect(sampleFile.entityTag == "1234-2710-\(String(UInt64(1_700_000_000) * 1_000_000_000 + 5, radix: 16))")
        #expect(HTTPFileMetadata(size: 0, inode: 0, modifiedSeconds: 0).entityTag == "0-0-0")
        let widest = HTTPFileMetadata(size: .max, inode: .max, modifiedSeconds: -1, modifiedNanoseconds: 999_999_999)
        #expect(widest.entityTag.utf8.count <= HTTPFileMetadata.maximumEntityTagLength)
    }

    @Test func entityTagChangesWithAnyOfTheThree() {
        let tags = [sampleFile,
                    HTTPFileMetadata(size: 10_001, inode: 0x1234, modifiedSeconds: 1_700_000_000, modifiedNanoseconds: 5),
                    HTTPFileMetadata(size: 10_000, inode: 0x1235, modifiedSeconds: 1_700_000_000, modifiedNanoseconds: 5),
                    HTTPFileMetadata(size: 10_000, inode: 0x1234, modifiedSeconds: 1_700_000_000, modifiedNanoseconds: 6)].map(\.entityTag)
        #expect(Set(tags).count == 4)
    }

    @Test func lastModifiedIsNeverLaterThanDate() {
        // RFC 9110 §8.8.2.1: not "later than the server's time of message origination".
        let future = HTTPFileMetadata(size: 1, inode: 1, modifiedSeconds: sampleNow + 3600)
        #expect(future.lastModified(now: sampleNow) == sampleNow)
        #expect(sampleFile.lastModified(now: sampleNow) == 1_700_000_000)
    }
}

// MARK: Conditionals and ranges

@Suite struct HTTPFileVerdictTests {
    let tag = "\"\(sampleFile.entityTag)\""

    @Test func plainGetIsWhole() throws {
        #expect(try verdict([]) == .whole)
        #expect(try verdict([], method: "HEAD") == .whole)
    }

    @Test func ifNoneMatchWithOurTagIs304() throws {
        #expect(try verdict(["If-None-Match: \(tag)"]) == .notModified)
        #expect(try verdict(["If-None-Match: \(tag)"], method: "HEAD") == .notModified)
        // Weak comparison: W/ matches too (RFC 9110 §13.1.2).
        #expect(try verdict(["If-None-Match: \"x\", W/\(tag)"]) == .notModified)
        #expect(try verdict(["If-None-Match: *"]) == .notModified)
        #expect(try verdict(["If-None-Match: \"other\""]) == .whole)
    }

    @Test func ifModifiedSince() throws {
        #expect(try verdict(["If-Modified-Since: \(httpDate(1_700_000_000))"]) == .notModified)
        #expect(try verdict(["If-Modified-Since: \(httpDate(1_750_000_000))"]) == .notModified)
        #expect(try verdict(["If-Modified-Since: \(httpDate(1_699_999_999))"]) == .whole)
        // A date later than our clock is invalid, so ignored.
        #expect(try verdict(["If-Modified-Since: \(httpDate(sampleNow + 10))"]) == .whole)
        #expect(try verdict(["If-Modified-Since: yesterday"]) == .whole)
    }

    @Test func ifNoneMatchWinsOverIfModifiedSince() throws {
        // RFC 9110 §13.2.2 step 4: If-Modified-Since only "if If-None-Match is not present".
        #expect(try verdict(["If-None-Match: \"other\"", "If-Modified-Since: \(httpDate(1_750_000_000))"]) == .whole)
    }

    @Test func singleRanges() throws {
        #expect(try verdict(["Range: bytes=0-99"]) == .partial(0...99))
        #expect(try verdict(["Range: bytes=9990-"]) == .partial(9990...9999))
        #expect(try verdict(["Range: bytes=-100"]) == .partial(9900...9999))
        #expect(try verdict(["Range: bytes=-20000"]) == .partial(0...9999))
        #expect(try verdict(["Range: bytes=5000-99999"]) == .partial(5000...9999))
        #expect(try verdict(["Range: bytes=9999-9999"]) == .partial(9999...9999))
    }

    @Test func unsatisfiableRangeIs416() throws {
        #expect(try verdict(["Range: bytes=10000-"]) == .rangeNotSatisfiable)
        #expect(try verdict(["Range: bytes=20000-30000"]) == .rangeNotSatisfiable)
        #expect(try verdict(["Range: bytes=-0"]) == .rangeNotSatisfiable)
        #expect(try verdict(["Range: bytes=0-"], file: HTTPFileMetadata(size: 0, inode: 1, modifiedSeconds: 1)) == .rangeNotSatisfiable)
    }

    @Test func multipleRangesAreTheWholeFileUnlessOnlyOneIsSatisfiable() throws {
        #expect(try verdict(["Range: bytes=0-9,20-29"]) == .whole)
        #expect(try verdict(["Range: bytes=0-9,20000-"]) == .partial(0...9))
        #expect(try verdict(["Range: bytes=20000-,30000-"]) == .rangeNotSatisfiable)
    }

    @Test func invalidOrForeignRangeIsIgnored() throws {
        #expect(try verdict(["Range: bytes=9-1"]) == .whole)
        #expect(try verdict(["Range: bytes=x"]) == .whole)
        #expect(try verdict(["Range: items=0-1"]) == .whole)
        #expect(try verdict(["Range: bytes=0-1", "Range: bytes=2-3"]) == .whole)
        // More than the parser's limit of specs: the amplifier is refused by ignoring it.
        let many = (0..<20).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ",")
        #expect(try verdict(["Range: bytes=\(many)"]) == .whole)
    }

    @Test func rangeOnlyForGet() throws {
        #expect(try verdict(["Range: bytes=0-9"], method: "HEAD") == .whole)
    }

    @Test func conditionalBeatsRange() throws {
        #expect(try verdict(["If-None-Match: \(tag)", "Range: bytes=0-9"]) == .notModified)
    }

    @Test func ifRange() throws {
        #expect(try verdict(["Range: bytes=0-9", "If-Range: \(tag)"]) == .partial(0...9))
        #expect(try verdict(["Range: bytes=0-9", "If-Range: \"stale\""]) == .whole)
        // Strong comparison only: a weak tag never matches.
        #expect(try verdict(["Range: bytes=0-9", "If-Range: W/\(tag)"]) == .whole)
        #expect(try verdict(["Range: bytes=0-9", "If-Range: \(httpDate(1_700_000_000))"]) == .partial(0...9))
        #expect(try verdict(["Range: bytes=0-9", "If-Range: \(httpDate(1_700_000_001))"]) == .whole)
    }
}

// MARK: Heads

@Suite struct HTTPFileHeadTests {
    @Test func wholeFile() throws {
        let (text, body) = try fileResponse(.whole)
        #expect(text == """
            HTTP/1.1 200 OK\r
            Date: \(httpDate(sampleNow))\r
            Last-Modified: \(httpDate(1_700_000_000))\r
            ETag: "\(sampleFile.entityTag)"\r
            Content-Type: application/octet-stream\r
            Content-Length: 10000\r
            Accept-Ranges: bytes\r
            Connection: keep-alive\r
            \r

            """)
        #expect(body == HTTPFileBody(offset: 0, length: 10_000))
    }

    @Test func headHasTheGetFieldsAndNoBody() throws {
        let (text, body) = try fileResponse(.whole, method: .head, persistent: false)
        #expect(text.contains("Content-Length: 10000\r\n"))
        #expect(text.contains("Connection: close\r\n"))
        #expect(body.length == 0)
    }

    @Test func partial() throws {
        let (text, body) = try fileResponse(.partial(100...199))
        #expect(text.hasPrefix("HTTP/1.1 206 Partial Content\r\n"))
        #expect(text.contains("Content-Range: bytes 100-199/10000\r\nContent-Length: 100\r\n"))
        #expect(body == HTTPFileBody(offset: 100, length: 100))
    }

    @Test func notModifiedCarriesValidatorsAndNoLength() throws {
        let (text, body) = try fileResponse(.notModified)
        #expect(text.hasPrefix("HTTP/1.1 304 Not Modified\r\n"))
        #expect(text.contains("ETag: \"\(sampleFile.entityTag)\"\r\n"))
        #expect(!text.contains("Content-Length"))
        #expect(body.length == 0)
    }

    @Test func unsatisfiable() throws {
        let (text, body) = try fileResponse(.rangeNotSatisfiable)
        #expect(text.hasPrefix("HTTP/1.1 416 Range Not Satisfiable\r\n"))
        #expect(text.contains("Content-Range: bytes */10000\r\nContent-Length: 0\r\n"))
        #expect(body.length == 0)
    }

    @Test func slotTooSmallThrows() throws {
        var buffer = [UInt8](repeating: 0, count: 100)
        #expect(throws: WireError.self) {
            try buffer.withUnsafeMutableBytes { raw in
                var writer = WireWriter(raw)
                _ = try HTTPFilePolicy.writeHead(.whole, method: .get, file: sampleFile, contentType: "text/plain",
                                                 now: sampleNow, persistent: true, into: &writer)
            }
        }
    }
}

// MARK: Request admission

@Suite struct HTTPRequestPolicyTests {
    func admit(_ text: String) throws -> HTTPRequestVerdict {
        try withRawHTTPHead(text) { HTTPRequestPolicy.admit($0) }
    }

    @Test func getAndHead() throws {
        #expect(try admit("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == .serve(.get, persistent: true))
        #expect(try admit("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n") == .serve(.head, persistent: true))
        #expect(try admit("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") == .serve(.get, persistent: false))
    }

    @Test func http10ClosesUnlessKeepAlive() throws {
        #expect(try admit("GET / HTTP/1.0\r\n\r\n") == .serve(.get, persistent: false))
        #expect(try admit("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") == .serve(.get, persistent: true))
    }

    @Test func otherMethodsAre405() throws {
        #expect(try admit("POST / HTTP/1.1\r\nHost: a\r\n\r\n") == .refuse(.methodNotAllowed, persistent: true))
        #expect(try admit("DELETE / HTTP/1.1\r\nHost: a\r\n\r\n") == .refuse(.methodNotAllowed, persistent: true))
        // With a body we do not read: answered, then closed.
        #expect(try admit("PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n") == .refuse(.methodNotAllowed, persistent: false))
        #expect(try admit("get / HTTP/1.1\r\nHost: a\r\n\r\n") == .refuse(.methodNotAllowed, persistent: true))
    }

    @Test func hostRules() throws {
        #expect(try admit("GET / HTTP/1.1\r\n\r\n") == .refuse(.badRequest, persistent: false))
        #expect(try admit("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == .refuse(.badRequest, persistent: false))
        #expect(try admit("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == .refuse(.badRequest, persistent: false))
    }

    @Test func framing() throws {
        #expect(try admit("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") == .refuse(.notImplemented, persistent: false))
        #expect(try admit("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n") == .refuse(.badRequest, persistent: false))
        #expect(try admit("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") == .serve(.get, persistent: true))
    }

    @Test func parseErrorStatuses() {
        func status(_ text: String) -> HTTPStatus? {
            Array(text.utf8).withUnsafeBytes { raw -> HTTPStatus? in
                do throws(WireError) {
                    _ = try HTTPRequestHead.parse(raw)
                    return nil
                } catch {
                    return HTTPRequestPolicy.status(for: error, in: raw)
                }
            }
        }
        #expect(status("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n") == .requestHeaderFieldsTooLarge)
        #expect(status("GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 101) + "\r\n") == .requestHeaderFieldsTooLarge)
        #expect(status("GET / HTTP/2.0\r\n\r\n") == .httpVersionNotSupported)
        #expect(status("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == .httpVersionNotSupported)
        // A version cut short by a bare LF is malformed, not unsupported.
        #expect(status("GET / HTTP/1.1\nHost: a\n\n") == .badRequest)
        #expect(status("GET / HTTX/1.1\r\n\r\n") == .badRequest)
        #expect(status("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n") == .badRequest)
        #expect(status("GET / HTTP/1.1\r\n X: folded\r\n\r\n") == .badRequest)
    }

    @Test func errorResponses() throws {
        var buffer = [UInt8](repeating: 0, count: 1024)
        let text = try buffer.withUnsafeMutableBytes { raw in
            var writer = WireWriter(raw)
            try HTTPRequestPolicy.writeError(.methodNotAllowed, method: .get, persistent: true, now: sampleNow, into: &writer)
            return String(decoding: writer.written, as: UTF8.self)
        }
        #expect(text == "HTTP/1.1 405 Method Not Allowed\r\nDate: \(httpDate(sampleNow))\r\nAllow: GET, HEAD\r\n"
            + "Content-Type: text/plain\r\nContent-Length: 23\r\nConnection: keep-alive\r\n\r\n405 Method Not Allowed\n")
        let head = try buffer.withUnsafeMutableBytes { raw in
            var writer = WireWriter(raw)
            try HTTPRequestPolicy.writeError(.notFound, method: .head, persistent: false, now: sampleNow, into: &writer)
            return String(decoding: writer.written, as: UTF8.self)
        }
        #expect(head.hasSuffix("Content-Length: 14\r\nConnection: close\r\n\r\n"))
    }
}

// MARK: Targets

@Suite struct HTTPRequestTargetTests {
    @Test func originForm() {
        #expect(HTTPRequestTarget.resolve("/images/vmlinuz") == .success("images/vmlinuz"))
        #expect(HTTPRequestTarget.resolve("//images/./vmlinuz?x=1#y") == .success("images/vmlinuz"))
        #expect(HTTPRequestTarget.resolve("/ipxe.cfg") == .success("ipxe.cfg"))
    }

    @Test func absoluteForm() {
        #expect(HTTPRequestTarget.resolve("http://198.18.0.1:5248/images/vmlinuz") == .success("images/vmlinuz"))
        #expect(HTTPRequestTarget.resolve("HTTP://host") == .failure(.empty))
    }

    @Test func percentDecodingThenConfinement() {
        #expect(HTTPRequestTarget.resolve("/a%20b") == .success("a b"))
        #expect(HTTPRequestTarget.resolve("/%2e%2e/etc/passwd") == .failure(.parentComponent))
        #expect(HTTPRequestTarget.resolve("/%2E%2E%2Fetc/passwd") == .failure(.parentComponent))
        #expect(HTTPRequestTarget.resolve("/..%5c..%5cetc") == .failure(.parentComponent))
        #expect(HTTPRequestTarget.resolve("/../etc/passwd") == .failure(.parentComponent))
        #expect(HTTPRequestTarget.resolve("/a/../b") == .failure(.parentComponent))
        // Decoded once: "%252e" is the name "%2e".
        #expect(HTTPRequestTarget.resolve("/%252e%252e/x") == .success("%2e%2e/x"))
        // Absolute paths stay beneath the root.
        #expect(HTTPRequestTarget.resolve("/etc/passwd") == .success("etc/passwd"))
    }

    @Test func refusals() {
        #expect(HTTPRequestTarget.resolve("/a%00b") == .failure(.nulByte))
        #expect(HTTPRequestTarget.resolve("/a%2") == .failure(.badEncoding))
        #expect(HTTPRequestTarget.resolve("/a%zz") == .failure(.badEncoding))
        #expect(HTTPRequestTarget.resolve("*") == .failure(.notOriginForm))
        #expect(HTTPRequestTarget.resolve("host:80") == .failure(.notOriginForm))
        #expect(HTTPRequestTarget.resolve("/") == .failure(.empty))
        #expect(HTTPRequestTarget.resolve("/" + String(repeating: "a", count: 300)) == .failure(.tooLong))
        #expect(HTTPTargetRefusal.parentComponent.status == .forbidden)
        #expect(HTTPTargetRefusal.badEncoding.status == .badRequest)
        #expect(HTTPTargetRefusal.empty.status == .notFound)
    }
}

@Suite struct HTTPContentTypeTests {
    @Test func byExtension() {
        #expect("\(HTTPContentType.forPath("images/vmlinuz"))" == "application/octet-stream")
        #expect("\(HTTPContentType.forPath("grub/grub.cfg"))" == "text/plain")
        #expect("\(HTTPContentType.forPath("boot.IPXE"))" == "text/plain")
        #expect("\(HTTPContentType.forPath("pxelinux.cfg/default"))" == "text/plain")
        #expect("\(HTTPContentType.forPath("a.cfg/kernel"))" == "application/octet-stream")
        #expect("\(HTTPContentType.forPath("images/initrd.gz"))" == "application/gzip")
        #expect("\(HTTPContentType.forPath("bootx64.efi"))" == "application/octet-stream")
    }
}
