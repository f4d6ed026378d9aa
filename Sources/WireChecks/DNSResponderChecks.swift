import Responders
import Tables
import Wire

/// Properties of the DNS responder for its fuzz target and the regression replay: any bytes
/// sent as a query, over UDP or TCP, get no answer or an answer that parses, is a response,
/// keeps the query's ID, and fits the transport's limit.
public enum DNSResponderChecks {
    /// A zone with every kind of answer the responder pre-encodes: data, CNAME chain, wildcard,
    /// delegation with glue, empty non-terminal, and a reverse zone.
    public static let zones: TableSnapshot = {
        func name(_ text: String) -> [UInt8] { ZoneNames.wire(text)! }
        func record(_ owner: String, _ type: DNSType, _ rdata: [UInt8]) -> ZoneRecord {
            ZoneRecord(owner: name(owner), type: type.rawValue, ttl: 300, rdata: rdata)
        }
        let soa = name("ns.maas.test") + name("hostmaster.maas.test") + [0, 0, 0, 1, 0, 0, 14, 16, 0, 0, 2, 88, 0, 9, 58, 128, 0, 0, 0, 60]
        var forward = ZoneDefinition(apex: name("maas.test"))
        forward.records = [
            record("maas.test", .soa, soa), record("maas.test", .ns, name("ns.maas.test")),
            record("ns.maas.test", .a, [198, 18, 0, 1]), record("www.maas.test", .a, [198, 18, 0, 10]),
            record("alias.maas.test", .cname, name("www.maas.test")), record("loop.maas.test", .cname, name("loop.maas.test")),
            record("*.wild.maas.test", .a, [198, 18, 0, 12]), record("sub.maas.test", .ns, name("ns1.sub.maas.test")),
            record("ns1.sub.maas.test", .a, [198, 18, 0, 13]), record("a.b.c.maas.test", .txt, [4] + Array("deep".utf8)),
            record("big.maas.test", .txt, [255] + [UInt8](repeating: 120, count: 255) + [255] + [UInt8](repeating: 121, count: 255)),
        ]
        var reverse = ZoneDefinition(apex: name("0.18.198.in-addr.arpa"))
        reverse.records = [
            record("0.18.198.in-addr.arpa", .soa, soa), record("0.18.198.in-addr.arpa", .ns, name("ns.maas.test")),
            record("10.0.18.198.in-addr.arpa", .ptr, name("www.maas.test")),
        ]
        var zones = ZoneSectionBuilder()
        zones.zones = [forward, reverse]
        zones.recursionAllowed = [ZoneACLEntry(network: IPv4Address(198, 18, 0, 0), prefixLength: 24)]
        zones.transferAllowed = [ZoneACLEntry(network: IPv4Address(198, 18, 0, 7), prefixLength: 32)]
        // No rate limit: the clock stands still here, so a limit would silence the fuzzer.
        var builder = TablesBuilder()
        builder.domain = "maas.test"
        builder.upstreamDNS = [IPv4Address(198, 18, 0, 254)]
        builder.zones = (try? zones.build()) ?? []
        return try! TableSnapshot(builder.build(generation: 1))
    }()

    nonisolated(unsafe) static let responder: DNSResponder = {
        let responder = DNSResponder()
        responder.recursionAvailable = true
        return responder
    }()

    /// Nil when every property holds, else what broke.
    public static func answer(_ query: UnsafeRawBufferPointer) -> String? {
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_535, alignment: 8)
        defer { out.deallocate() }
        for (transport, source) in [(DNSTransport.udp, IPv4Address(198, 18, 0, 7)), (.tcp, IPv4Address(198, 18, 0, 7)),
                                    (.udp, IPv4Address(203, 0, 113, 1))] {
            let verdict = responder.respond(query, source: source.value, transport: transport, zones: zones.zoneTable,
                                            now: 1000, into: out)
            switch verdict {
            case .reply(let length):
                let reply = UnsafeRawBufferPointer(rebasing: out[0..<length])
                guard let message = try? DNSMessage(parsing: reply) else { return "\(transport) reply does not parse" }
                var records = message.records
                do {
                    while try records.next() != nil {}
                } catch {
                    return "\(transport) reply has a bad record: \(error)"
                }
                guard message.header.qr else { return "\(transport) reply without QR" }
                guard reply[0] == query[0], reply[1] == query[1] else { return "\(transport) reply with another ID" }
                if transport == .udp, length > DNSResponder.ednsUDPSize { return "UDP reply of \(length) bytes" }
            case .transfer(let zone, let info):
                let stream = responder.transferMessages(zone: zone, zones: zones.zoneTable, info, query: query)
                if stream.count < 2 { return "empty transfer" }
            case .drop, .forward:
                break
            }
        }
        return nil
    }
}
