import Foundation
import Testing
@testable import Responders
import Site
import Tables
import Wire

/// The zones every DNS test answers from: forward and reverse (one /24, one /26 with RFC 2317
/// names), machines, records of each type, a CNAME chain, a wildcard, a delegation with glue.
let dnsSiteText = """
domain: maas.test
upstream_dns: [198.18.0.254]
subnets:
  - cidr: 198.18.0.0/24
    pools: [{start: 198.18.0.100, end: 198.18.0.250}]
  - cidr: 198.18.5.64/26
machines:
  - {hostname: node01, mac: "52:54:00:00:00:01", ip: 198.18.0.21}
  - {hostname: node02, mac: "52:54:00:00:00:02", ip: 198.18.5.70}
records:
  - {name: www, type: A, value: 198.18.0.10}
  - {name: www, type: AAAA, value: "2001:db8::10"}
  - {name: alias, type: CNAME, value: www}
  - {name: chain, type: CNAME, value: alias}
  - {name: dangling, type: CNAME, value: nothere}
  - {name: outside, type: CNAME, value: www.example.org.}
  - {name: "@", type: MX, value: "10 mail"}
  - {name: mail, type: A, value: 198.18.0.11}
  - {name: "@", type: TXT, value: '"v=spf1 -all" "second string"'}
  - {name: _http._tcp, type: SRV, value: "0 5 80 www"}
  - {name: "*.wild", type: A, value: 198.18.0.12}
  - {name: sub, type: NS, value: ns1.sub}
  - {name: ns1.sub, type: A, value: 198.18.0.13}
  - {name: a.b.c, type: TXT, value: deep}
  - {name: big, type: TXT, value: "\(String(repeating: "x", count: 600))"}
dns:
  allow_transfer: [198.18.0.7/32]
  allow_recursion: [198.18.0.0/24]
  rate_limit: 1000
"""

func dnsTables(_ text: String = dnsSiteText, generation: UInt64 = 7, leases: [SiteLeaseName] = []) throws -> TableSnapshot {
    let site = try SiteFile.parse(text, file: "site.yaml")
    return try TableSnapshot(SiteCompiler.compile(site, generation: generation, createdAt: 0, leases: leases))
}

/// A query as a stub resolver sends it; `edns` adds an OPT with that UDP size (and version).
func dnsQuery(_ name: String, _ type: UInt16, id: UInt16 = 0x1234, rd: Bool = true, edns: UInt16? = nil,
              ednsVersion: UInt8 = 0, opcode: UInt8 = 0) -> [UInt8] {
    var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), opcode << 3 | (rd ? 1 : 0), 0, 0, 1, 0, 0, 0, 0, 0, edns == nil ? 0 : 1]
    bytes += ZoneNames.wire(name)!
    bytes += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
    if let edns { bytes += [0, 0, 41, UInt8(edns >> 8), UInt8(edns & 0xFF), 0, ednsVersion, 0, 0, 0, 0] }
    return bytes
}

/// A response read back: header, and each record as "section owner TYPE ttl rdata".
struct DNSAnswerText {
    var header: DNSHeader
    var records: [String] = []
    var extendedRCode: UInt8 = 0
    var optSize: UInt16?
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        var records: [String] = []
        var extended: UInt8 = 0
        var size: UInt16?
        let header = try bytes.withUnsafeBytes { raw -> DNSHeader in
            let message = try DNSMessage(parsing: raw)
            var iterator = message.records
            while let record = try iterator.next() {
                if record.type == .opt {
                    extended = UInt8(record.ttl >> 24)
                    size = record.dnsClass.rawValue
                    continue
                }
                records.append("\(record.section) \(record.name.displayName) \(record.type) \(record.ttl) \(try record.data())")
            }
            return message.header
        }
        self.header = header
        self.records = records
        extendedRCode = extended
        optSize = size
    }
}

final class DNSHarness {
    let responder = DNSResponder()
    let tables: TableSnapshot
    var now: UInt64 = 1_000_000

    init(_ tables: TableSnapshot) {
        self.tables = tables
        responder.recursionAvailable = !Array(tables.upstreamDNS).isEmpty
    }

    func verdict(_ query: [UInt8], from source: IPv4Address = IPv4Address(198, 18, 0, 50), transport: DNSTransport = .udp,
                 size: Int = 65_535) -> (DNSVerdict, [UInt8]) {
        var out = [UInt8](repeating: 0, count: size)
        let verdict = query.withUnsafeBytes { q in
            out.withUnsafeMutableBytes { o in
                responder.respond(q, source: source.value, transport: transport, zones: tables.zoneTable, now: now, into: o)
            }
        }
        if case .reply(let length) = verdict { return (verdict, Array(out[0..<length])) }
        return (verdict, [])
    }

    func ask(_ query: [UInt8], from source: IPv4Address = IPv4Address(198, 18, 0, 50), transport: DNSTransport = .udp) throws -> DNSAnswerText {
        let (verdict, bytes) = verdict(query, from: source, transport: transport)
        guard case .reply = verdict else { throw HarnessError.noReply("\(verdict)") }
        return try DNSAnswerText(bytes)
    }

    enum HarnessError: Error { case noReply(String) }
}

@Suite struct DNSResponderTests {
    let dns: DNSHarness

    init() throws { dns = DNSHarness(try dnsTables()) }

    @Test func answersEveryRecordTypeFromTheZone() throws {
        let cases: [(String, UInt16, String)] = [
            ("www.maas.test", 1, "answer www.maas.test A 300 198.18.0.10"),
            ("www.maas.test", 28, "answer www.maas.test AAAA 300 2001:db8::10"),
            ("maas.test", 15, "answer maas.test MX 300 10 mail.maas.test"),
            ("maas.test", 16, "answer maas.test TXT 300 \"v=spf1 -all\" \"second string\""),
            ("_http._tcp.maas.test", 33, "answer _http._tcp.maas.test SRV 300 0 5 80 www.maas.test"),
            ("maas.test", 2, "answer maas.test NS 300 ns.maas.test"),
            ("node01.maas.test", 1, "answer node01.maas.test A 300 198.18.0.21"),
            ("21.0.18.198.in-addr.arpa", 12, "answer 21.0.18.198.in-addr.arpa PTR 300 node01.maas.test"),
        ]
        for (name, type, expected) in cases {
            let answer = try dns.ask(dnsQuery(name, type))
            #expect(answer.header.rcode == 0, "\(name)")
            #expect(answer.header.aa, "\(name)")
            #expect(answer.header.id == 0x1234)
            #expect(answer.header.qr)
            #expect(answer.records == [expected], "\(name) \(type)")
        }
        let soa = try dns.ask(dnsQuery("maas.test", 6))
        #expect(soa.records == ["answer maas.test SOA 300 ns.maas.test hostmaster.maas.test 7 3600 600 604800 60"])
    }

    @Test func keepsTheQuestionsCaseInTheAnswer() throws {
        let answer = try dns.ask(dnsQuery("WwW.MaAs.TeSt", 1))
        #expect(answer.records == ["answer WwW.MaAs.TeSt A 300 198.18.0.10"])
    }

    @Test func nxdomainAndNodataCarryTheSOA() throws {
        let soa = "authority maas.test SOA 60 ns.maas.test hostmaster.maas.test 7 3600 600 604800 60"
        let nx = try dns.ask(dnsQuery("nope.maas.test", 1))
        #expect(nx.header.rcode == 3)
        #expect(nx.header.aa)
        #expect(nx.records == [soa])
        let nodata = try dns.ask(dnsQuery("www.maas.test", 16))
        #expect(nodata.header.rcode == 0)
        #expect(nodata.records == [soa])
        // An empty non-terminal (a.b.c exists, so b.c does): NODATA, not NXDOMAIN.
        let ent = try dns.ask(dnsQuery("b.c.maas.test", 1))
        #expect(ent.header.rcode == 0)
        #expect(ent.records == [soa])
    }

    @Test func followsCNAMEChainsInsideTheZones() throws {
        let chain = try dns.ask(dnsQuery("chain.maas.test", 1))
        #expect(chain.records == [
            "answer chain.maas.test CNAME 300 alias.maas.test",
            "answer alias.maas.test CNAME 300 www.maas.test",
            "answer www.maas.test A 300 198.18.0.10",
        ])
        let cnameOnly = try dns.ask(dnsQuery("chain.maas.test", 5))
        #expect(cnameOnly.records == ["answer chain.maas.test CNAME 300 alias.maas.test"])
        // RFC 6604: the RCODE is that of the last name in the chain.
        let dangling = try dns.ask(dnsQuery("dangling.maas.test", 1))
        #expect(dangling.header.rcode == 3)
        #expect(dangling.records.first == "answer dangling.maas.test CNAME 300 nothere.maas.test")
        let outside = try dns.ask(dnsQuery("outside.maas.test", 1))
        #expect(outside.header.rcode == 0)
        #expect(outside.records == ["answer outside.maas.test CNAME 300 www.example.org"])
        // A type nobody has: the chain, then NODATA at its end.
        let nodata = try dns.ask(dnsQuery("alias.maas.test", 99))
        #expect(nodata.records.count == 2)
        #expect(nodata.records.last?.hasPrefix("authority maas.test SOA") == true)
    }

    @Test func synthesisesFromWildcards() throws {
        let answer = try dns.ask(dnsQuery("Anything.wild.maas.test", 1))
        #expect(answer.records == ["answer Anything.wild.maas.test A 300 198.18.0.12"])
        let deeper = try dns.ask(dnsQuery("a.b.wild.maas.test", 1))
        #expect(deeper.records == ["answer a.b.wild.maas.test A 300 198.18.0.12"])
        let nodata = try dns.ask(dnsQuery("x.wild.maas.test", 28))
        #expect(nodata.header.rcode == 0)
        #expect(nodata.records.count == 1)
    }

    @Test func refersDelegationsWithGlue() throws {
        for name in ["sub.maas.test", "host.sub.maas.test", "ns1.sub.maas.test"] {
            let referral = try dns.ask(dnsQuery(name, 1))
            #expect(referral.header.rcode == 0, "\(name)")
            #expect(!referral.header.aa, "\(name)")
            #expect(referral.records == [
                "authority sub.maas.test NS 300 ns1.sub.maas.test",
                "additional ns1.sub.maas.test A 300 198.18.0.13",
            ], "\(name)")
        }
    }

    @Test func answersClasslessReverseNames() throws {
        let answer = try dns.ask(dnsQuery("70.5.18.198.in-addr.arpa", 12))
        #expect(answer.records == [
            "answer 70.5.18.198.in-addr.arpa CNAME 300 70.64-26.5.18.198.in-addr.arpa",
            "answer 70.64-26.5.18.198.in-addr.arpa PTR 300 node02.maas.test",
        ])
    }

    @Test func answersANYWithOneRRSet() throws {
        let any = try dns.ask(dnsQuery("www.maas.test", 255))
        #expect(any.records.count == 1)
    }

    @Test func echoesEDNSAndRefusesNewerVersions() throws {
        let answer = try dns.ask(dnsQuery("www.maas.test", 1, edns: 4096))
        #expect(answer.optSize == 1232)
        #expect(answer.header.additionalCount == 1)
        let badVersion = try dns.ask(dnsQuery("www.maas.test", 1, edns: 4096, ednsVersion: 1))
        #expect(badVersion.header.rcode == 0)
        #expect(badVersion.extendedRCode == 1)  // BADVERS = 16
        #expect(badVersion.records.isEmpty)
        let plain = try dns.ask(dnsQuery("www.maas.test", 1))
        #expect(plain.optSize == nil)
    }

    @Test func truncatesWhatExceedsTheClientsLimit() throws {
        let udp = try dns.ask(dnsQuery("big.maas.test", 16))
        #expect(udp.header.tc)
        #expect(udp.records.isEmpty)
        #expect(udp.header.questionCount == 1)
        let edns = try dns.ask(dnsQuery("big.maas.test", 16, edns: 1232))
        #expect(!edns.header.tc)
        #expect(edns.records.count == 1)
        let tcp = try dns.ask(dnsQuery("big.maas.test", 16), transport: .tcp)
        #expect(!tcp.header.tc)
        #expect(tcp.records.count == 1)
    }

    @Test func refusesOrForwardsNamesOutsideTheZones() throws {
        let (inside, _) = dns.verdict(dnsQuery("example.org", 1), from: IPv4Address(198, 18, 0, 50))
        guard case .forward(let info) = inside else { Issue.record("expected forward, got \(inside)"); return }
        #expect(info.type == 1)
        let refused = try dns.ask(dnsQuery("example.org", 1), from: IPv4Address(203, 0, 113, 5))
        #expect(refused.header.rcode == 5)
        #expect(!refused.header.ra)
        let noRD = try dns.ask(dnsQuery("example.org", 1, rd: false))
        #expect(noRD.header.rcode == 5)
        #expect(noRD.header.ra)
        let chaos = dnsQuery("version.bind", 16).enumerated().map { $0.offset == dnsQuery("version.bind", 16).count - 1 ? 3 : $0.element }
        #expect(try dns.ask(chaos).header.rcode == 5)
    }

    @Test func malformedQueriesGetFORMERROrNothing() throws {
        #expect(dns.verdict([0x12, 0x34, 0x01]).0 == .drop(.short))
        var response = dnsQuery("www.maas.test", 1)
        response[2] |= 0x80
        #expect(dns.verdict(response).0 == .drop(.response))
        var noQuestion = dnsQuery("www.maas.test", 1)
        noQuestion[5] = 0
        #expect(try dns.ask(noQuestion).header.rcode == 1)
        var twoQuestions = dnsQuery("www.maas.test", 1)
        twoQuestions[5] = 2
        #expect(try dns.ask(twoQuestions).header.rcode == 1)
        let cut = Array(dnsQuery("www.maas.test", 1).dropLast(3))
        #expect(try dns.ask(cut).header.rcode == 1)
        var pointer = Array(dnsQuery("www.maas.test", 1)[0..<12])
        pointer += [0xC0, 0x0C, 0, 1, 0, 1]
        #expect(try dns.ask(pointer).header.rcode == 1)
        var twoOPT = dnsQuery("www.maas.test", 1, edns: 1232)
        twoOPT[11] = 2
        twoOPT += [0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]
        #expect(try dns.ask(twoOPT).header.rcode == 1)
        let notify = try dns.ask(dnsQuery("maas.test", 6, opcode: 4))
        #expect(notify.header.rcode == 4)
        #expect(dns.responder.counters.formatErrors.reduce(0, +) == 5)
    }

    @Test func transfersZonesOnlyOverTCPToAllowedClients() throws {
        let allowed = IPv4Address(198, 18, 0, 7)
        let (verdict, _) = dns.verdict(dnsQuery("maas.test", 252), from: allowed, transport: .tcp)
        guard case .transfer(let zone, let info) = verdict else { Issue.record("expected transfer, got \(verdict)"); return }
        let query = dnsQuery("maas.test", 252)
        let stream = query.withUnsafeBytes { dns.responder.transferMessages(zone: zone, zones: dns.tables.zoneTable, info, query: $0) }
        var records: [String] = []
        var position = 0
        while position < stream.count {
            let length = Int(stream[position]) << 8 | Int(stream[position + 1])
            records += try DNSAnswerText(Array(stream[(position + 2)..<(position + 2 + length)])).records
            position += 2 + length
        }
        #expect(records.first?.contains(" SOA ") == true)
        #expect(records.last == records.first)
        #expect(records.contains("answer www.maas.test A 300 198.18.0.10"))
        #expect(try dns.ask(dnsQuery("maas.test", 252), from: allowed).header.rcode == 5)
        #expect(try dns.ask(dnsQuery("maas.test", 252), from: IPv4Address(198, 18, 0, 8), transport: .tcp).header.rcode == 5)
        #expect(try dns.ask(dnsQuery("www.maas.test", 252), from: allowed, transport: .tcp).header.rcode == 5)
    }

    @Test func rateLimitsEachSourcePrefixWithSlips() throws {
        // rate_limit 5: five answers, then slips (TC, empty) and drops alternate.
        let dns = DNSHarness(try dnsTables(dnsSiteText.replacingOccurrences(of: "rate_limit: 1000", with: "rate_limit: 5")))
        let source = IPv4Address(198, 18, 9, 1)
        var answered = 0, slipped = 0, dropped = 0
        for _ in 0..<11 {
            switch dns.verdict(dnsQuery("www.maas.test", 1), from: source).0 {
            case .reply(let length) where length > 40: answered += 1
            case .reply: slipped += 1
            case .drop(.rateLimited): dropped += 1
            default: Issue.record("unexpected verdict")
            }
        }
        #expect(answered == 5)
        #expect(slipped == 3)
        #expect(dropped == 3)
        // Another /24 has its own bucket; TCP is never limited; a second later there are tokens again.
        #expect(try dns.ask(dnsQuery("www.maas.test", 1), from: IPv4Address(198, 18, 10, 1)).records.count == 1)
        #expect(try dns.ask(dnsQuery("www.maas.test", 1), from: source, transport: .tcp).records.count == 1)
        dns.now += 1000
        #expect(try dns.ask(dnsQuery("www.maas.test", 1), from: source).records.count == 1)
    }

    @Test func publishesNamedLeasesAndLetsMachinesAndRecordsWin() throws {
        let leases = [
            SiteLeaseName(hostname: "Laptop_01.corp.example", address: IPv4Address(198, 18, 0, 120)),
            SiteLeaseName(hostname: "www", address: IPv4Address(198, 18, 0, 121)),
            SiteLeaseName(hostname: "---", address: IPv4Address(198, 18, 0, 122)),
        ]
        let dns = DNSHarness(try dnsTables(leases: leases))
        #expect(try dns.ask(dnsQuery("laptop-01.maas.test", 1)).records == ["answer laptop-01.maas.test A 300 198.18.0.120"])
        #expect(try dns.ask(dnsQuery("120.0.18.198.in-addr.arpa", 12)).records
            == ["answer 120.0.18.198.in-addr.arpa PTR 300 laptop-01.maas.test"])
        #expect(try dns.ask(dnsQuery("www.maas.test", 1)).records == ["answer www.maas.test A 300 198.18.0.10"])
        #expect(try dns.ask(dnsQuery("121.0.18.198.in-addr.arpa", 12)).header.rcode == 3)
        #expect(SiteZones.sanitizedHostLabel("---".utf8) == nil)
    }

    @Test func serialIsTheGenerationAndRisesWithIt() throws {
        for generation: UInt64 in [7, 8, 1_800_000_000] {
            let dns = DNSHarness(try dnsTables(generation: generation))
            let soa = try dns.ask(dnsQuery("maas.test", 6))
            #expect(soa.records.first?.contains(" \(generation) 3600 ") == true)
        }
    }

    @Test func zoneSectionIsDeterministic() throws {
        let site = try SiteFile.parse(dnsSiteText, file: "site.yaml")
        let first = try SiteZones.builder(for: site, serial: 1).build()
        let second = try SiteZones.builder(for: site, serial: 1).build()
        #expect(first == second)
    }
}
