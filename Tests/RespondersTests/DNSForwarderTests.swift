import Testing
@testable import Responders
import Tables
import Wire

/// An upstream's answer to `query`: same ID and question, one A record with `ttl`.
func upstreamAnswer(to query: [UInt8], id: UInt16, ttl: UInt32, rcode: UInt8 = 0) -> [UInt8] {
    var bytes = query
    bytes[0] = UInt8(id >> 8)
    bytes[1] = UInt8(id & 0xFF)
    bytes[2] |= 0x80
    bytes[3] = 0x80 | rcode
    bytes[7] = rcode == 0 ? 1 : 0
    if rcode == 0 {
        bytes += [0xC0, 0x0C, 0, 1, 0, 1, UInt8(ttl >> 24), UInt8(ttl >> 16 & 0xFF), UInt8(ttl >> 8 & 0xFF), UInt8(ttl & 0xFF), 0, 4, 203, 0, 113, 9]
    }
    return bytes
}

@Suite struct DNSForwarderTests {
    let upstreams = [IPv4Address(198, 18, 0, 254), IPv4Address(198, 18, 0, 253)]
    let client = DNSClient(address: IPv4Address(198, 18, 0, 50).value, port: 40000)

    func info(_ query: [UInt8]) -> DNSQueryInfo {
        DNSQueryInfo(id: UInt16(query[0]) << 8 | UInt16(query[1]), flags: 0x0100, questionEnd: query.count, type: 1, dnsClass: 1,
                     hasEDNS: false, udpLimit: 512)
    }

    func forward(_ forwarder: DNSForwarder, _ query: [UInt8], now: UInt64) -> (DNSForwarder.Step, [UInt8]) {
        var out = [UInt8](repeating: 0, count: 2048)
        let step = query.withUnsafeBytes { q in
            out.withUnsafeMutableBytes { forwarder.forward(q, info: info(query), client: client, upstreams: upstreams, now: now, into: $0) }
        }
        switch step {
        case .reply(let n), .send(let n, _): return (step, Array(out[0..<n]))
        }
    }

    func receive(_ forwarder: DNSForwarder, _ response: [UInt8], from: IPv4Address, port: UInt16 = 53, now: UInt64) -> (DNSClient, [UInt8])? {
        var out = [UInt8](repeating: 0, count: 2048)
        let result = response.withUnsafeBytes { r in
            out.withUnsafeMutableBytes {
                forwarder.received(r, fromAddress: from.value, fromPort: port, upstreams: upstreams, now: now, into: $0)
            }
        }
        return result.map { ($0.0, Array(out[0..<$0.1])) }
    }

    @Test func forwardsUnderAFreshIDAndAnswersTheClientUnderItsOwn() throws {
        let forwarder = DNSForwarder()
        let query = dnsQuery("Example.ORG", 1, id: 0x4242)
        let (step, sent) = forward(forwarder, query, now: 1000)
        guard case .send(_, let upstream) = step else { Issue.record("expected send"); return }
        #expect(upstreams.contains(upstream))
        #expect(Array(sent[2...]) == Array(query[2...]))
        let upstreamID = UInt16(sent[0]) << 8 | UInt16(sent[1])
        let answer = upstreamAnswer(to: sent, id: upstreamID, ttl: 100)
        // Spoofs: wrong source, wrong port, wrong ID, wrong question.
        let other = upstreams.first { $0 != upstream }!
        #expect(receive(forwarder, answer, from: other, now: 1010) == nil)
        #expect(receive(forwarder, answer, from: upstream, port: 5353, now: 1010) == nil)
        #expect(receive(forwarder, upstreamAnswer(to: sent, id: upstreamID &+ 1, ttl: 100), from: upstream, now: 1010) == nil)
        var wrongQuestion = answer
        wrongQuestion[14] = UInt8(ascii: "z")
        #expect(receive(forwarder, wrongQuestion, from: upstream, now: 1010) == nil)
        let (to, bytes) = try #require(receive(forwarder, answer, from: upstream, now: 1010))
        #expect(to == client)
        #expect(bytes[0] == 0x42 && bytes[1] == 0x42)
        #expect(forwarder.pendingCount == 0)
        // A second answer for the same ID is not accepted twice.
        #expect(receive(forwarder, answer, from: upstream, now: 1020) == nil)
    }

    @Test func cachesForTheTTLAndAgesIt() throws {
        let forwarder = DNSForwarder()
        let query = dnsQuery("example.org", 1, id: 1)
        let (step, sent) = forward(forwarder, query, now: 0)
        guard case .send(_, let upstream) = step else { Issue.record("expected send"); return }
        _ = receive(forwarder, upstreamAnswer(to: sent, id: UInt16(sent[0]) << 8 | UInt16(sent[1]), ttl: 100), from: upstream, now: 0)
        #expect(forwarder.cacheCount == 1)
        let (hit, bytes) = forward(forwarder, dnsQuery("EXAMPLE.org", 1, id: 2), now: 40_000)
        #expect(hit == .reply(length: bytes.count))
        let answer = try DNSAnswerText(bytes)
        #expect(answer.header.id == 2)
        #expect(answer.records == ["answer example.org A 60 203.0.113.9"])
        let (expired, _) = forward(forwarder, dnsQuery("example.org", 1, id: 3), now: 101_000)
        guard case .send = expired else { Issue.record("expected a fresh upstream query after the TTL"); return }
    }

    @Test func retriesTheOtherUpstreamThenFails() throws {
        let forwarder = DNSForwarder()
        let query = dnsQuery("slow.example", 1, id: 9)
        guard case .send(_, let first) = forward(forwarder, query, now: 0).0 else { Issue.record("expected send"); return }
        var out = [UInt8](repeating: 0, count: 2048)
        var retried: [IPv4Address] = []
        var failed: [(DNSClient, [UInt8])] = []
        out.withUnsafeMutableBytes { buffer in
            forwarder.expire(now: 2500, upstreams: upstreams, out: buffer, retry: { _, upstream in retried.append(upstream) },
                             fail: { client, n in failed.append((client, Array(buffer[0..<n]))) })
        }
        #expect(retried.count == 1 && retried[0] != first)
        #expect(failed.isEmpty)
        out.withUnsafeMutableBytes { buffer in
            forwarder.expire(now: 5000, upstreams: upstreams, out: buffer, retry: { _, upstream in retried.append(upstream) },
                             fail: { client, n in failed.append((client, Array(buffer[0..<n]))) })
        }
        #expect(failed.count == 1)
        let servfail = try DNSAnswerText(failed[0].1)
        #expect(servfail.header.rcode == 2)
        #expect(servfail.header.id == 9)
        #expect(servfail.header.questionCount == 1)
        #expect(forwarder.pendingCount == 0)
    }
}
