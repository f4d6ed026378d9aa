import Testing
import Tables
import Wire

/// The zone builder on random zone sets (a fixed seed, so every run builds the same ones):
/// whatever it builds opens, finds every name it was given and each ancestor up to the apex,
/// answers each type with that type's records, and transfers each zone between two SOAs; and
/// the same input builds the same bytes.
struct ZoneSectionBuilderTests {
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 17
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let labels = ["a", "B", "www", "ns", "Mail", "x1", "deep", "*"]

    static func wire(_ text: String) -> [UInt8] { ZoneNames.wire(text)! }

    /// One to three zones (some nested, some differing only in case), each with an SOA and an
    /// NS at the apex, then A, AAAA, MX, TXT, PTR and NS records at random names below it.
    static func zones(_ random: inout Generator) -> [ZoneDefinition] {
        let apexTexts = ["maas.test", "sub.maas.test", "0.18.198.in-addr.arpa", "other.example"]
        var zones: [ZoneDefinition] = []
        for apexText in apexTexts where random.below(3) != 0 || zones.isEmpty {
            let apex = wire(random.below(4) == 0 ? apexText.uppercased() : apexText)
            var zone = ZoneDefinition(apex: apex)
            let soa = wire("ns.maas.test") + wire("hostmaster.maas.test") + [0, 0, 0, 7, 0, 0, 14, 16, 0, 0, 2, 88, 0, 9, 58, 128, 0, 0, 1, 44]
            zone.records.append(ZoneRecord(owner: apex, type: DNSType.soa.rawValue, ttl: 300, rdata: soa))
            zone.records.append(ZoneRecord(owner: apex, type: DNSType.ns.rawValue, ttl: 300, rdata: wire("ns.maas.test")))
            for _ in 0..<random.below(60) {
                var owner: [UInt8] = []
                for _ in 0..<(1 + random.below(3)) {
                    let label = labels[random.below(labels.count)]
                    owner += [UInt8(label.utf8.count)] + Array(label.utf8)
                }
                owner += apex
                let type = [DNSType.a, .a, .a, .aaaa, .mx, .txt, .ptr, .ns][random.below(8)].rawValue
                let rdata: [UInt8] = switch type {
                case DNSType.a.rawValue: [10, 0, UInt8(random.below(3)), UInt8(random.below(3))]
                case DNSType.aaaa.rawValue: [UInt8](repeating: UInt8(random.below(3)), count: 16)
                case DNSType.mx.rawValue: [0, 10] + wire("mail.maas.test")
                case DNSType.txt.rawValue: [3, 0x61, 0x62, UInt8(0x61 + random.below(3))]
                default: Array(owner.dropFirst(Int(owner[0]) + 1))
                }
                zone.records.append(ZoneRecord(owner: owner, type: type, ttl: UInt32(60 * (1 + random.below(3))), rdata: rdata))
            }
            zones.append(zone)
        }
        return zones
    }

    @Test func randomZoneSetsBuildWhatTheyWereGiven() throws {
        var random = Generator(state: 0x5EED)
        var built = 0
        var delegations = 0
        for _ in 0..<250 {
            var builder = ZoneSectionBuilder()
            builder.zones = Self.zones(&random)
            let bytes: [UInt8]
            do {
                bytes = try builder.build()
            } catch {
                // Only what the input really has wrong: two zones of one name in another case.
                #expect(error.description == "a zone is listed twice")
                continue
            }
            built += 1
            #expect(try builder.build() == bytes)
            try bytes.withUnsafeBytes { raw in
                let table = try ZoneTable(validating: raw)
                let apexes = builder.zones.map { ZoneNames.lowercased($0.apex) }
                // A name is below a delegation if an NS sits between it and its (deepest) apex.
                func delegated(_ name: [UInt8]) -> Bool {
                    let apex = apexes.filter { ZoneNames.isSubdomain(name, of: $0) }.max { $0.count < $1.count }!
                    return builder.zones.contains { zone in
                        zone.records.contains { record in
                            let owner = ZoneNames.lowercased(record.owner)
                            return record.type == DNSType.ns.rawValue && owner.count > apex.count
                                && apexes.firstIndex(of: owner) == nil && ZoneNames.isSubdomain(name, of: owner)
                        }
                    }
                }
                for zone in builder.zones {
                    for record in zone.records {
                        let owner = ZoneNames.lowercased(record.owner)
                        let index = owner.withUnsafeBytes { table.find($0) }
                        #expect(index >= 0, "\(ZoneNames.text(owner)) is missing")
                        guard index >= 0 else { continue }
                        // Every ancestor up to the apex exists too (empty non-terminals).
                        var ancestor = owner
                        while !apexes.contains(ancestor) {
                            ancestor = Array(ancestor.dropFirst(Int(ancestor[0]) + 1))
                            #expect(ancestor.withUnsafeBytes { table.find($0) } >= 0)
                        }
                        if delegated(owner) {
                            delegations += 1
                            continue
                        }
                        let answer = table.answer(name: index, type: record.type)
                        #expect(answer.rcode == 0 && answer.answerCount >= 1, "\(ZoneNames.text(owner)) \(record.type)")
                        #expect(Self.contains(answer.records, record.rdata), "\(ZoneNames.text(owner)) \(record.type)")
                        // ANY (no entry of its own) gets one of the name's RRsets whole.
                        let any = table.answer(name: index, type: ZoneFormat.anyType)
                        let types = Set(zone.records.filter { ZoneNames.lowercased($0.owner) == owner }.map(\.type))
                        #expect(any.rcode == 0 && types.contains { type in
                            table.answer(name: index, type: type).records.elementsEqual(any.records)
                        }, "\(ZoneNames.text(owner)) ANY")
                    }
                }
                for apex in apexes {
                    let zone = try #require(apex.withUnsafeBytes { table.zone(apex: $0) })
                    let transfer = table.transferRecords(zone: zone)
                    // SOA first and last, owner written out.
                    #expect(transfer.count > apex.count + 2)
                    #expect(UInt16(transfer[apex.count]) << 8 | UInt16(transfer[apex.count + 1]) == DNSType.soa.rawValue)
                }
            }
        }
        #expect(built == 250)
        #expect(delegations > 0)
    }

    /// The fingerprint is SHA-256 over the input written out in order (each count and value
    /// little-endian, each byte string after its length), however large a piece is.
    @Test func fingerprintHashesTheInputInOrder() {
        var random = Generator(state: 0xF1F1)
        for round in 0..<20 {
            var builder = ZoneSectionBuilder()
            builder.zones = Self.zones(&random)
            builder.responsesPerSecond = UInt32(round)
            builder.transferAllowed = [ZoneACLEntry(network: IPv4Address(198, 18, 0, 0), prefixLength: 24)]
            if round % 4 == 0 {
                // Pieces that fill the feed's buffer several times over.
                let big = [UInt8](repeating: UInt8(round), count: 65_535)
                for _ in 0..<3 {
                    builder.zones[0].records.append(ZoneRecord(owner: builder.zones[0].apex, type: DNSType.txt.rawValue, ttl: 60, rdata: big))
                }
            }
            var expected: [UInt8] = []
            func put(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { expected += $0 } }
            func put(_ bytes: [UInt8]) { put(UInt32(bytes.count)); expected += bytes }
            put(builder.responsesPerSecond)
            for list in [builder.recursionAllowed, builder.transferAllowed] {
                put(UInt32(list.count))
                for entry in list { put(entry.network.value); put(UInt32(entry.prefixLength)) }
            }
            put(UInt32(builder.zones.count))
            for zone in builder.zones {
                put(zone.apex)
                put(UInt32(zone.records.count))
                for record in zone.records { put(record.owner); put(UInt32(record.type)); put(record.ttl); put(record.rdata) }
            }
            var hasher = SHA256()
            builder.fingerprint(into: &hasher)
            #expect(hasher.finish() == SHA256.hash(expected))
        }
    }

    /// The name hash is the smallest power of two at a load of 0.8 or below, and still has an
    /// empty slot to end every probe.
    @Test func hashCapacityKeepsTheLoadAtMostFourFifths() {
        #expect(ZoneFormat.hashCapacity(for: 0) == 8)
        #expect(ZoneFormat.hashCapacity(for: 200_516) == 262_144)
        for count in [1, 6, 7, 100, 204, 205, 10_000, 200_000] {
            let capacity = ZoneFormat.hashCapacity(for: count)
            #expect(capacity & (capacity - 1) == 0 && capacity > count)
            #expect(capacity * 4 >= count * 5 && (capacity == 8 || capacity * 2 < count * 5))
        }
    }

    /// Malformed wire names are refused with a message, never read past their end.
    @Test func malformedNamesAreRefused() throws {
        let soa = Self.wire("ns.maas.test") + Self.wire("hostmaster.maas.test") + [UInt8](repeating: 1, count: 20)
        for owner in [[5, 0x61, 0], [1, 0x61], [64] + [UInt8](repeating: 0x61, count: 64) + Self.wire("maas.test"), [0, 0], []] as [[UInt8]] {
            var builder = ZoneSectionBuilder()
            builder.zones = [ZoneDefinition(apex: Self.wire("maas.test"), records: [
                ZoneRecord(owner: Self.wire("maas.test"), type: DNSType.soa.rawValue, ttl: 60, rdata: soa),
                ZoneRecord(owner: Self.wire("maas.test"), type: DNSType.ns.rawValue, ttl: 60, rdata: Self.wire("ns.maas.test")),
                ZoneRecord(owner: owner, type: DNSType.a.rawValue, ttl: 60, rdata: [10, 0, 0, 1]),
            ])]
            #expect(throws: ZoneBuildError.self) { try builder.build() }
        }
        var builder = ZoneSectionBuilder()
        builder.zones = [ZoneDefinition(apex: [4, 0x6D, 0x61])]
        let error = #expect(throws: ZoneBuildError.self) { try builder.build() }
        #expect(error?.description == "a zone's name is not a valid wire-form name")
    }

    static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if (0..<needle.count).allSatisfy({ haystack[start + $0] == needle[$0] }) { return true }
        }
        return false
    }
}
