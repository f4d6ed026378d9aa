import Testing
@testable import Wire
import WireChecks

private func parse(_ text: String) -> Result<HTTPResponseParseResult, WireError> {
    Array(text.utf8).withUnsafeBytes { raw in
        do throws(WireError) {
            return .success(try HTTPResponseView.parse(raw))
        } catch {
            return .failure(error)
        }
    }
}

/// Runs `body` on a complete head, or records an issue.
private func withHead(_ text: String, _ body: (HTTPResponseView) throws -> Void) {
    Array(text.utf8).withUnsafeBytes { raw in
        guard case .complete(let view)? = try? HTTPResponseView.parse(raw) else {
            Issue.record("no complete head in \(text.debugDescription)")
            return
        }
        do { try body(view) } catch { Issue.record(error) }
    }
}

private func field(_ result: Result<HTTPResponseParseResult, WireError>) -> String? {
    if case .failure(let error) = result { return error.field.description }
    return nil
}

@Suite struct HTTPResponseViewTests {
    @Test func aServersHeadIsReadWithItsFields() {
        withHead("HTTP/1.1 206 Partial Content\r\nContent-Length: 100\r\nContent-Range: bytes 0-99/1000\r\n\r\nBODY") { view in
            #expect(view.status == 206 && view.version == .http1_1)
            #expect(String(decoding: view.reason, as: UTF8.self) == "Partial Content")
            #expect(view.length == 85 && view.headerCount == 2)
            #expect((try? view.contentLength()) == 100)
            #expect(view.isPersistent && !view.hasTransferEncoding)
            #expect(view.headers.first(named: "content-range").map { String(decoding: $0, as: UTF8.self) } == "bytes 0-99/1000")
        }
    }

    @Test func persistenceFollowsVersionAndConnection() {
        withHead("HTTP/1.0 200 OK\r\n\r\n") { #expect(!$0.isPersistent) }
        withHead("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n") { #expect($0.isPersistent) }
        withHead("HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n") { #expect(!$0.isPersistent) }
    }

    @Test func anEmptyReasonIsAccepted() {
        withHead("HTTP/1.1 404 \r\n\r\n") { #expect($0.status == 404 && $0.reason.isEmpty) }
        withHead("HTTP/1.1 204\r\n\r\n") { view in
            #expect(view.status == 204 && !view.hasBody(requestWasHead: false))
        }
    }

    @Test func everyPrefixIsIncomplete() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
        for end in 0..<text.utf8.count {
            let prefix = String(decoding: Array(text.utf8)[0..<end], as: UTF8.self)
            guard case .success(.incomplete) = parse(prefix) else {
                Issue.record("prefix of \(end) bytes is not incomplete")
                return
            }
        }
    }

    @Test func badHeadsNameTheField() {
        #expect(field(parse("HTTP/2 200 OK\r\n\r\n")) == "http.response.version")
        #expect(field(parse("HTTP/1.1 2x0 OK\r\n\r\n")) == "http.response.status")
        #expect(field(parse("HTTP/1.1 099 Low\r\n\r\n")) == "http.response.status")
        #expect(field(parse("HTTP/1.1 200 OK\nX: y\r\n\r\n")) == "http.response.reason", "a bare LF is no line end")
        #expect(field(parse("HTTP/1.1 200\nX: y\r\n\r\n")) == "http.response.status")
        #expect(field(parse("HTTP/1.1 200 OK\r\rX: y\r\n\r\n")) == "http.response.line")
        #expect(field(parse("HTTP/1.1 200 OK\r\nBad Name: y\r\n\r\n")) == "http.header.name")
        #expect(field(parse("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n")) == "http.header.obs_fold")
        #expect(field(parse("HTTP/1.1 200 OK\r\nX: a\u{0}b\r\n\r\n")) == "http.header.value")
        withHead("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") { view in
            #expect(throws: WireError.self) { try view.contentLength() }
        }
        let long = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 9000)
        #expect(field(parse(long)) == "http.head.size")
    }

    @Test func theFuzzPropertyHoldsOnServersHeads() {
        let samples = [
            "HTTP/1.1 200 OK\r\nContent-Length: 14310344\r\nETag: \"1-2-3\"\r\nConnection: keep-alive\r\n\r\n",
            "HTTP/1.0 404 Not Found\r\nConnection: close\r\n\r\nbody",
            "HTTP/1.1 200\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nA: b\r\nC: d\r\nE: f\r\n\r\n",
            "HTTP/1.1 999 \r\n\r\n", "HTTP/1.1 20", "", "HTTP/1.1 200 OK\r\nX:\r\n\r\n",
        ]
        for sample in samples {
            let violation = Array(sample.utf8).withUnsafeBytes { HTTPResponseChecks.incremental($0) }
            #expect(violation == nil, "\(sample.debugDescription): \(violation ?? "")")
        }
    }
}
