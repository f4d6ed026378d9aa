import Testing
@testable import Wire

private func text(_ view: UnsafeRawBufferPointer) -> String { String(decoding: view, as: UTF8.self) }

/// Parses a Range value on its own (offsets relative to the value).
private func ranges(_ value: String, maxRanges: Int = 16) -> Result<[HTTPByteRange]?, WireError> {
    Array(value.utf8).withUnsafeBytes { raw in
        do throws(WireError) {
            return .success(try HTTPByteRanges.parse(raw, maxRanges: maxRanges).map(Array.init))
        } catch {
            return .failure(error)
        }
    }
}

private func satisfiable(_ value: String, size: UInt64) -> [ClosedRange<UInt64>] {
    Array(value.utf8).withUnsafeBytes { raw in
        guard let r = try? HTTPByteRanges.parse(raw) else { return [] }
        return Array(r.satisfiable(size: size))
    }
}

/// Runs `body` on the head of a GET with the given extra header lines.
private func withRequest(_ lines: [String], _ body: (HTTPRequestHead) throws -> Void) {
    let s = "GET /f HTTP/1.1\r\nHost: h\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
    Array(s.utf8).withUnsafeBytes { raw in
        guard case .complete(let head)? = try? HTTPRequestHead.parse(raw) else {
            Issue.record("no complete head")
            return
        }
        do { try body(head) } catch { Issue.record(error) }
    }
}

private func written(capacity: Int = 1024, _ body: (inout WireWriter) throws -> Void) -> Result<String, WireError> {
    var storage = [UInt8](repeating: 0, count: capacity)
    return storage.withUnsafeMutableBytes { buffer in
        var writer = WireWriter(buffer)
        do {
            try body(&writer)
        } catch let error as WireError {
            return .failure(error)
        } catch {
            Issue.record(error)
        }
        return .success(text(writer.written))
    }
}

@Suite struct HTTPRangeTests {
    @Test func rangeForms() throws {
        #expect(try ranges("bytes=0-499").get() == [.bounded(first: 0, last: 499)])
        #expect(try ranges("bytes=500-").get() == [.from(first: 500)])
        #expect(try ranges("bytes=-500").get() == [.suffix(length: 500)])
        #expect(try ranges("bytes=0-0,-1").get() == [.bounded(first: 0, last: 0), .suffix(length: 1)])
        #expect(try ranges("Bytes=0-1 , 5-9,, 20-").get() == [.bounded(first: 0, last: 1), .bounded(first: 5, last: 9), .from(first: 20)])
        #expect(try ranges("bytes=0-18446744073709551615").get() == [.bounded(first: 0, last: .max)])
        // Another unit is ignored, not an error.
        #expect(try ranges("items=0-1").get() == nil)
    }

    @Test func invalidRanges() {
        #expect(ranges("bytes=5-1").failure == WireError(.invalidValue, "http.range.spec", at: 6))
        #expect(ranges("bytes=0-1,x").failure == WireError(.invalidValue, "http.range.spec", at: 10))
        #expect(ranges("bytes=").failure == WireError(.invalidValue, "http.range.set", at: 6))
        #expect(ranges("bytes= , ").failure == WireError(.invalidValue, "http.range.set", at: 6))
        #expect(ranges("bytes=-").failure == WireError(.invalidValue, "http.range.spec", at: 6))
        #expect(ranges("bytes=1-2-3").failure == WireError(.invalidValue, "http.range.spec", at: 6))
        #expect(ranges("bytes=0-18446744073709551616").failure == WireError(.invalidValue, "http.range.spec", at: 6))
        #expect(ranges("bytes=--1").failure == WireError(.invalidValue, "http.range.spec", at: 6))
        #expect(ranges("bytes 0-1").failure == WireError(.invalidValue, "http.range.unit", at: 0))
        #expect(ranges("bytes =0-1").failure == WireError(.invalidValue, "http.range.unit", at: 0))
        #expect(ranges("=0-1").failure == WireError(.invalidValue, "http.range.unit", at: 0))
    }

    @Test func rangeCountLimit() throws {
        let sixteen = "bytes=" + (0..<16).map { "\($0 * 10)-\($0 * 10 + 1)" }.joined(separator: ",")
        #expect(try ranges(sixteen).get()?.count == 16)
        let seventeen = sixteen + ",500-501"
        #expect(ranges(seventeen).failure == WireError(.limitExceeded, "http.range.count", at: seventeen.utf8.count - 7))
        #expect(ranges("bytes=0-1,2-3", maxRanges: 1).failure?.reason == .limitExceeded)
    }

    @Test func resolveAgainstSize() {
        #expect(satisfiable("bytes=0-499", size: 10000) == [0...499])
        #expect(satisfiable("bytes=500-", size: 10000) == [500...9999])
        #expect(satisfiable("bytes=-500", size: 10000) == [9500...9999])
        // last-pos past the end is clipped; a suffix longer than the file is the whole file.
        #expect(satisfiable("bytes=9999-20000", size: 10000) == [9999...9999])
        #expect(satisfiable("bytes=-20000", size: 10000) == [0...9999])
        // first-pos at the size, and a zero suffix, select nothing.
        #expect(satisfiable("bytes=10000-", size: 10000) == [])
        #expect(satisfiable("bytes=10000-10001", size: 10000) == [])
        #expect(satisfiable("bytes=-0", size: 10000) == [])
        #expect(satisfiable("bytes=10000-,0-0,-0,-1", size: 10000) == [0...0, 9999...9999])
        // An empty representation satisfies no range.
        #expect(satisfiable("bytes=0-,-1", size: 0) == [])
        #expect(satisfiable("bytes=0-", size: 1) == [0...0])
    }

    @Test func rangeFromRequestHead() {
        withRequest(["Range: bytes=0-1023"]) { head in
            let r = try #require(try head.range())
            #expect(r.count == 1)
            #expect(Array(r.satisfiable(size: 100)) == [0...99])
        }
        withRequest([]) { head throws in #expect(try head.range() == nil) }
        withRequest(["Range: bytes=0-1", "Range: bytes=2-3"]) { head in
            #expect(throws: WireError(.invalidValue, "http.header.range", at: 44)) { try head.range() }
        }
        // The error offset is in the message: "GET /f HTTP/1.1\r\nHost: h\r\nRange: " is 33 bytes.
        withRequest(["Range: bytes=3-1"]) { head in
            #expect(throws: WireError(.invalidValue, "http.range.spec", at: 39)) { try head.range() }
        }
    }
}

@Suite struct HTTPEntityTagTests {
    @Test func ifNoneMatchTags() {
        withRequest(["If-None-Match: \"abc\", W/\"def\"", "if-none-match: \"x,y\""]) { head in
            guard case .tags(let list) = try #require(try head.ifNoneMatch()) else { Issue.record("not tags"); return }
            #expect(list.map { text($0.opaque) } == ["abc", "def", "x,y"])
            #expect(list.map(\.isWeak) == [false, true, false])
            let match = try #require(try head.ifNoneMatch())
            for (tag, expected) in [("abc", true), ("def", true), ("x,y", true), ("xyz", false), ("ab", false)] {
                #expect(Array(tag.utf8).withUnsafeBytes { match.matches(opaque: $0) } == expected, "\(tag)")
            }
        }
        withRequest(["If-None-Match: \"\""]) { head in
            guard case .tags(let list) = try #require(try head.ifNoneMatch()) else { Issue.record("not tags"); return }
            #expect(list.map { $0.opaque.count } == [0])
        }
    }

    @Test func ifNoneMatchStar() {
        withRequest(["If-None-Match: *"]) { head in
            guard case .any = try #require(try head.ifNoneMatch()) else { Issue.record("not any"); return }
            #expect([UInt8]().withUnsafeBytes { (try? head.ifNoneMatch())??.matches(opaque: $0) } == true)
        }
        withRequest([]) { head throws in #expect(try head.ifNoneMatch() == nil) }
    }

    @Test func invalidIfNoneMatch() {
        // "GET /f HTTP/1.1\r\nHost: h\r\nIf-None-Match: " is 41 bytes.
        for (value, at) in [("abc", 41), ("*, \"a\"", 41), ("w/\"a\"", 41), ("\"a\" \"b\"", 45), ("\"a", 41), ("W/ \"a\"", 41), ("\"a\"b", 44)] {
            withRequest(["If-None-Match: \(value)"]) { head in
                #expect(throws: WireError(.invalidValue, "http.etag", at: at), "\(value)") { try head.ifNoneMatch() }
            }
        }
        withRequest(["If-None-Match: , ,"]) { head in
            #expect(throws: WireError(.invalidValue, "http.header.if_none_match", at: 26)) { try head.ifNoneMatch() }
        }
        withRequest(["If-None-Match: *", "If-None-Match: \"a\""]) { head in
            #expect(throws: WireError.self) { try head.ifNoneMatch() }
        }
    }
}

@Suite struct HTTPResponseHeadTests {
    @Test func dateFormatting() {
        for (seconds, expected) in [
            (Int64(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"),
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 GMT"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        ] {
            #expect(written { w throws(WireError) in try HTTPDate.write(seconds, into: &w) } == .success(expected))
        }
        #expect(written { w throws(WireError) in try HTTPDate.write(253_402_300_800, into: &w) }.failure?.field.description == "http.date")
        #expect(written(capacity: 28) { w throws(WireError) in try HTTPDate.write(0, into: &w) } == .failure(WireError(.noSpace, "http.date", at: 0)))
    }

    @Test func dateRoundTrip() {
        var storage = [UInt8](repeating: 0, count: 64)
        var t: Int64 = -2_208_988_800  // 1900
        while t < 4_200_000_000 {
            let parsed: Int64? = storage.withUnsafeMutableBytes { buffer in
                var w = WireWriter(buffer)
                guard (try? HTTPDate.write(t, into: &w)) != nil else { return nil }
                return HTTPDate.parse(w.written)
            }
            #expect(parsed == t)
            t += 7_777_777
        }
    }

    @Test func partialContentHead() {
        let out = written { w throws in
            try HTTPResponseHead.writeStatusLine(.partialContent, into: &w)
            try HTTPResponseHead.writeDate(784_111_777, into: &w)
            try HTTPResponseHead.writeLastModified(0, into: &w)
            try [UInt8]("x1-2".utf8).withUnsafeBytes { (e: UnsafeRawBufferPointer) throws in
                try HTTPResponseHead.writeETag(opaque: e, into: &w)
            }
            try HTTPResponseHead.writeContentType("application/octet-stream", into: &w)
            try HTTPResponseHead.writeContentRange(500...999, size: 10000, into: &w)
            try HTTPResponseHead.writeContentLength(500, into: &w)
            try HTTPResponseHead.writeConnection(close: false, into: &w)
            try HTTPResponseHead.writeHeader("Accept-Ranges", "bytes", into: &w)
            try HTTPResponseHead.writeEnd(into: &w)
        }
        #expect(out == .success(
            "HTTP/1.1 206 Partial Content\r\n"
                + "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                + "Last-Modified: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                + "ETag: \"x1-2\"\r\n"
                + "Content-Type: application/octet-stream\r\n"
                + "Content-Range: bytes 500-999/10000\r\n"
                + "Content-Length: 500\r\n"
                + "Connection: keep-alive\r\n"
                + "Accept-Ranges: bytes\r\n"
                + "\r\n"))
    }

    @Test func otherStatusLines() {
        let out = written { w throws in
            try HTTPResponseHead.writeStatusLine(.rangeNotSatisfiable, into: &w)
            try HTTPResponseHead.writeUnsatisfiedContentRange(size: 42, into: &w)
            try HTTPResponseHead.writeConnection(close: true, into: &w)
            try [UInt8]("v".utf8).withUnsafeBytes { (e: UnsafeRawBufferPointer) throws in
                try HTTPResponseHead.writeETag(opaque: e, weak: true, into: &w)
            }
            try HTTPResponseHead.writeEnd(into: &w)
        }
        #expect(out == .success("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */42\r\nConnection: close\r\nETag: W/\"v\"\r\n\r\n"))
        #expect(written { w throws(WireError) in try HTTPResponseHead.writeStatusLine(.requestHeaderFieldsTooLarge, into: &w) }
            == .success("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
    }

    @Test func encoderRefusesResponseSplitting() {
        for bad in ["a\r\nSet-Cookie: x", "a\nb", "a\u{0}"] {
            let r = written { w throws in
                try [UInt8](bad.utf8).withUnsafeBytes { (v: UnsafeRawBufferPointer) throws in
                    try HTTPResponseHead.writeHeader("X-File", value: v, into: &w)
                }
            }
            #expect(r.failure?.field.description == "http.header.value", "\(bad.debugDescription)")
        }
        let quote = written { w throws in
            try [UInt8]("a\"b".utf8).withUnsafeBytes { (v: UnsafeRawBufferPointer) throws in
                try HTTPResponseHead.writeETag(opaque: v, into: &w)
            }
        }
        #expect(quote == .failure(WireError(.invalidValue, "http.etag", at: 1)))
    }

    @Test func encoderStopsAtBufferEnd() {
        // "Content-Length: 500\r\n" is 21 bytes: fits in 21, not in 20, and a failure leaves
        // nothing half-written.
        #expect(written(capacity: 21) { w throws(WireError) in try HTTPResponseHead.writeContentLength(500, into: &w) } == .success("Content-Length: 500\r\n"))
        var storage = [UInt8](repeating: 0, count: 20)
        storage.withUnsafeMutableBytes { buffer in
            var w = WireWriter(buffer)
            #expect(throws: WireError.self) { try HTTPResponseHead.writeContentLength(500, into: &w) }
            #expect(w.count == 0)
            #expect(throws: WireError.self) { try HTTPResponseHead.writeContentRange(0...1, size: 2, into: &w) }
            #expect(w.count == 0)
            #expect(throws: WireError.self) { try HTTPResponseHead.writeDate(0, into: &w) }
            #expect(w.count == 0)
        }
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
