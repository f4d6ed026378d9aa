import Testing
import Tables
import Wire
@testable import Site

/// A prepare that reuses what an earlier one built from the same site without its records
/// compiles to exactly the bytes of one that builds everything.
struct SitePreparationCacheTests {
    /// 6,000 machines (enough for the second thread), records of several kinds, one of them a
    /// CNAME at a machine's name (refused either way, as the machine comes first).
    func site(machines: Int = 6_000, records: [SiteRecord]) -> SiteConfiguration {
        let subnet = SiteSubnet(network: IPv4Address(198, 18, 0, 0), prefixLength: 16, gateway: IPv4Address(198, 18, 0, 1))
        return SiteConfiguration(
            domain: "maas", subnets: [subnet],
            machines: (0..<machines).map { k in
                SiteMachine(hostname: "m\(k)", mac: MACAddress(0x0ABE_0000_0000 | UInt64(k)),
                            ip: IPv4Address(subnet.network.value + 10 + UInt32(k)), arch: "amd64")
            },
            records: records)
    }

    static let records = [
        SiteRecord(name: "www", type: "A", value: "10.0.0.1"),
        SiteRecord(name: "alias", type: "CNAME", value: "www"),
        SiteRecord(name: "m7", type: "CNAME", value: "www"),
        SiteRecord(name: "m8", type: "TXT", value: "\"kept beside the host's A\""),
        SiteRecord(name: "mail", type: "MX", value: "10 www"),
    ]

    func compiled(_ site: SiteConfiguration, leases: [SiteLeaseName] = [], cache: SitePreparationCache?) throws -> [UInt8] {
        try SiteCompiler.compile(SiteCompiler.prepare(site, leases: leases, reusing: cache), generation: 9, createdAt: 1)
    }

    @Test func reusedPreparationsCompileToTheSameBytes() throws {
        let cache = SitePreparationCache()
        let first = site(records: Self.records)
        #expect(try compiled(first, cache: cache) == compiled(first, cache: nil))
        #expect(cache.kept != nil)

        // Records only: the kept sections and hosts are reused.
        let kept = try #require(cache.kept)
        let moreRecords = site(records: Self.records + [SiteRecord(name: "new", type: "A", value: "10.0.0.2")])
        #expect(try compiled(moreRecords, cache: cache) == compiled(moreRecords, cache: nil))
        #expect(cache.reused == 1)
        #expect(cache.kept?.base == kept.base)
        // A lease named like a free host, and one like a record (refused): the same either way.
        let leases = [SiteLeaseName(hostname: "laptop", address: IPv4Address(198, 18, 200, 1)),
                      SiteLeaseName(hostname: "www", address: IPv4Address(198, 18, 200, 2))]
        #expect(try compiled(moreRecords, leases: leases, cache: cache) == compiled(moreRecords, leases: leases, cache: nil))
        #expect(cache.reused == 2)

        // A machine changes: everything is built again and kept anew.
        var renamed = moreRecords
        renamed.machines[3].hostname = "renamed"
        #expect(try compiled(renamed, cache: cache) == compiled(renamed, cache: nil))
        #expect(cache.reused == 2)
        #expect(cache.kept?.base != kept.base)
        // Back to the earlier machines: built again, not taken from what was kept for `renamed`.
        #expect(try compiled(moreRecords, cache: cache) == compiled(moreRecords, cache: nil))
        #expect(cache.reused == 2)

        // Other parts of the site than machines: the subnet's domain, the DNS settings.
        var otherDomain = moreRecords
        otherDomain.subnets[0].domain = "lab.example"
        #expect(try compiled(otherDomain, cache: cache) == compiled(otherDomain, cache: nil))
        var otherTTL = moreRecords
        otherTTL.dns.defaultTTL = 60
        #expect(try compiled(otherTTL, cache: cache) == compiled(otherTTL, cache: nil))
        #expect(cache.reused == 2)
    }

    /// The compile writes the zones straight into their place in the file (the transfer copies
    /// after the data, from their own arena): the same bytes as laying out a built section.
    @Test func zonesWrittenInPlaceMakeTheFileOfACopiedSection() throws {
        let prepared = SiteCompiler.prepare(site(records: Self.records))
        var zones = prepared.zones
        zones.setSerial(9)
        let section = try zones.build()
        #expect(try zones.encode().size == section.count)
        let compiled = try compiled(site(records: Self.records), cache: nil)
        #expect(compiled == prepared.sections.layout(zones: section, generation: 9, createdAt: 1))
        // The snapshot's view is valid while the snapshot lives.
        let snapshot = try TableSnapshot(compiled)
        #expect(Array(snapshot.zones) == section)
    }
}
