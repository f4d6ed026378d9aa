#if canImport(Glibc)
import Glibc
#endif
import Site
import Tables
import Wire

// Compiles a synthetic site the shape of the region benchmark's large model — 198.18.0.0/15 as
// 32 /20 subnets, N machines with a static address each, N A records in the default domain —
// and prints where the time goes, phase by phase.
//
//   tables-profile [machines] [records] [passes]

let arguments = CommandLine.arguments
// `tables-profile sha MIB`: SHA-256 throughput alone (the snapshot is hashed three times per
// compile: by the builder, for its content address, and when it is validated).
if arguments.count > 2, arguments[1] == "sha", let mebibytes = Int(arguments[2]) {
    let buffer = [UInt8](repeating: 0x5A, count: mebibytes << 20)
    let clock = ContinuousClock()
    let started = clock.now
    let digest = SHA256.hash(buffer)
    let elapsed = clock.now - started
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print("sha256 of \(mebibytes) MiB: \(Int(Double(mebibytes) / seconds)) MiB/s (\(digest.prefix(4).map { String($0, radix: 16) }.joined()))")
    exit(0)
}
let machineCount = arguments.count > 1 ? Int(arguments[1]) ?? 100_000 : 100_000
let recordCount = arguments.count > 2 ? Int(arguments[2]) ?? machineCount : machineCount
let passes = arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3

func seconds(_ duration: Duration) -> String {
    let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    return String(Int((value * 1000).rounded())) + " ms"
}

let perSubnet = (machineCount + 31) / 32
var subnets: [SiteSubnet] = []
for index in 0..<32 {
    let network = IPv4Address(198, 18 + UInt8(index / 16), UInt8(index % 16) * 16, 0)
    subnets.append(SiteSubnet(
        network: network, prefixLength: 20, gateway: IPv4Address(network.value + 1),
        pools: index == 0 ? [SiteRange(start: IPv4Address(network.value + 4000), end: IPv4Address(network.value + 4090))] : []))
}
var machines: [SiteMachine] = []
machines.reserveCapacity(machineCount)
for k in 0..<machineCount {
    let subnet = subnets[k / perSubnet]
    let mac = MACAddress(0x0ABE_0000_0000 | UInt64(k))
    machines.append(SiteMachine(
        hostname: "m" + String(k), mac: mac, ip: IPv4Address(subnet.network.value + 10 + UInt32(k % perSubnet)), arch: "amd64"))
}
var records: [SiteRecord] = []
records.reserveCapacity(recordCount)
for k in 0..<recordCount {
    records.append(SiteRecord(name: "r" + String(k), type: "A", value: "10.\(k >> 16 & 255).\(k >> 8 & 255).\(k & 255)"))
}
let site = SiteConfiguration(domain: "maas", subnets: subnets, machines: machines, records: records)

let clock = ContinuousClock()
// `tables-profile M R P cache`: SiteCompiler.prepare as the region runs it, one rack's
// SitePreparationCache kept across passes that change a record, then a machine, in turn.
if arguments.count > 4, arguments[4] == "cache" {
    let cache = SitePreparationCache()
    var changing = site
    for pass in 0..<(passes * 2) {
        if pass > 0, pass % 2 == 0 {
            changing.machines[pass % changing.machines.count].hostname += "x"
        } else if pass > 0 {
            changing.records[pass % changing.records.count].value = "10.255.0.\(pass % 250)"
        }
        let started = clock.now
        let uncached = SiteCompiler.prepare(changing)
        let plain = clock.now - started
        _ = uncached
        let cachedStart = clock.now
        let prepared = SiteCompiler.prepare(changing, reusing: cache)
        let cached = clock.now - cachedStart
        _ = prepared
        print("pass \(pass) (\(pass == 0 ? "first" : pass % 2 == 0 ? "machine changed" : "record changed")): prepare \(seconds(plain)), with the cache \(seconds(cached))")
    }
    exit(0)
}
// `tables-profile M R P region`: the region's pass after one record changed, phase by phase as
// `TablesCompiler` times them (less the database): prepare with the rack's cache and
// fingerprint, build (compile, then the content address), check.
if arguments.count > 4, arguments[4] == "region" {
    let cache = SitePreparationCache()
    var changing = site
    _ = SiteCompiler.prepare(changing, reusing: cache)
    for pass in 1...passes {
        changing.records[pass % changing.records.count].value = "10.255.0.\(pass % 250)"
        var mark = clock.now
        func lap() -> String {
            let now = clock.now
            defer { mark = now }
            return seconds(now - mark)
        }
        let prepared = SiteCompiler.prepare(changing, reusing: cache)
        let prepare = lap()
        let fingerprint = prepared.fingerprint()
        let hashed = lap()
        // The public compile checks as well (the region's unchecked one is package-only): the
        // check is timed again on its own below.
        let bytes = try SiteCompiler.compile(prepared, generation: UInt64(pass), createdAt: 0)
        let compiled = lap()
        let digest = SHA256.hash(bytes)
        let addressed = lap()
        let failure = TableSnapshot.validationError(bytes)
        let checked = lap()
        print("pass \(pass): prepare \(prepare), fingerprint \(hashed) (\(fingerprint.prefix(2).map { String($0, radix: 16) }.joined())), "
            + "compile and check \(compiled) (\(bytes.count) B), content address \(addressed) (\(digest.prefix(2).map { String($0, radix: 16) }.joined())), "
            + "check \(checked) (\(failure.map { "\($0)" } ?? "ok"))")
    }
    exit(0)
}
for pass in 1...passes {
    var mark = clock.now
    func lap() -> String {
        let now = clock.now
        defer { mark = now }
        return seconds(now - mark)
    }
    var builder = SiteCompiler.builder(for: site)
    let dhcp = lap()
    let zoneBuilder = SiteZones.builder(for: site, serial: 1)
    let assemble = lap()
    builder.zones = (try? zoneBuilder.build()) ?? []
    let zones = lap()
    let bytes = builder.build(generation: 1, createdAt: 0)
    let build = lap()
    let snapshot = try TableSnapshot(bytes)
    let validate = lap()
    print("pass \(pass): dhcp builder \(dhcp), zone records \(assemble), zone section \(zones) (\(builder.zones.count) B), "
        + "snapshot \(build) (\(bytes.count) B), open+verify \(validate), generation \(snapshot.generation), "
        // The zone section's hash: an optimisation of the builders must leave it unchanged.
        + "zones sha \(SHA256.hash(builder.zones).prefix(8).map { String($0, radix: 16) }.joined())")
}
