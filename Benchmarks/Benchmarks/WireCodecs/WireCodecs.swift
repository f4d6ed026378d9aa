import Benchmark
import WireWorkloads

/// Parse throughput of the Wire codecs over the real-capture corpus.
///
/// Each benchmark iteration parses 1,000 payloads (`scalingFactor: .kilo`), cycling through
/// its set from where the previous iteration stopped, so every packet of the set weighs the
/// same and the clock is read once per thousand parses; figures are per packet. Payloads are
/// read from the captures and copied into one arena before the first iteration (untimed).
let benchmarks: @Sendable () -> Void = {
    let corpus = WireCorpus.shared

    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 50,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    parse("DHCP parse + full option scan", corpus.dhcp, DHCPFullScan.self)
    parse("DHCP parse only", corpus.dhcp, DHCPParseOnly.self)
    parse("DNS query parse + question", corpus.dnsQueries, DNSQuery.self)
    parse("DNS response parse + all records", corpus.dnsResponses, DNSResponse.self)
    parse("TFTP RRQ parse + options", corpus.tftpRequests, TFTP.self)
    parse("TFTP DATA/ACK parse", corpus.tftpTransfer, TFTP.self)
    parse("HTTP request head parse + fields", corpus.httpHeads, HTTPHead.self)
    // The allocation counter's control: one Array per packet, so it must read 1.
    parse("Control: copy payload to Array", corpus.dhcp, CopyPayload.self)
}

/// A workload as a type, so `parse` is specialized for it and the call is direct (a closure
/// value would cost an indirect call per packet, visible next to a 10 ns parse).
protocol Workload {
    static func run(_ payload: UnsafeRawBufferPointer) -> Int
}

enum DHCPFullScan: Workload { static func run(_ p: UnsafeRawBufferPointer) -> Int { Workloads.dhcpFullScan(p) } }
enum DHCPParseOnly: Workload { static func run(_ p: UnsafeRawBufferPointer) -> Int { Workloads.dhcpParseOnly(p) } }
enum DNSQuery: Workload { static func run(_ p: UnsafeRawBufferPointer) -> Int { Workloads.dnsQuery(p) } }
enum DNSResponse: Workload { static func run(_ p: UnsafeRawBufferPointer) -> Int { Workloads.dnsResponse(p) } }
enum TFTP: Workload { static func run(_ p: UnsafeRawBufferPointer) -> Int { Workloads.tftp(p) } }
enum HTTPHead: Workload { static func run(_ p: UnsafeRawBufferPointer) -> Int { Workloads.httpHead(p) } }
enum CopyPayload: Workload { static func run(_ p: UnsafeRawBufferPointer) -> Int { Workloads.copyPayload(p) } }

/// Where the next iteration of a benchmark resumes in its set.
final class Cursor: @unchecked Sendable {
    var next = 0
}

func parse<W: Workload>(_ name: String, _ set: PayloadSet, _: W.Type) {
    let payloads = set.payloads
    precondition(!payloads.isEmpty, "\(name): the corpus gave no payloads for \(set.name)")
    let cursor = Cursor()
    Benchmark("\(name) [\(set.name) n=\(set.count)]") { benchmark in
        var i = cursor.next
        for _ in benchmark.scaledIterations {
            blackHole(W.run(payloads[i]))
            i += 1
            if i == payloads.count { i = 0 }
        }
        cursor.next = i
    }
}
