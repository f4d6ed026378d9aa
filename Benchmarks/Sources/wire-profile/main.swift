#if canImport(Glibc)
import Glibc
#endif
import WireWorkloads

// Runs one workload over its set in a plain loop, for `valgrind --tool=callgrind` (which counts
// instructions, so it is repeatable on a shared machine) and `perf record`.
//
//   wire-profile dhcp|dhcp-parse|dns-query|dns-response|tftp-rrq|tftp-transfer|http [passes]

let arguments = CommandLine.arguments
let which = arguments.count > 1 ? arguments[1] : "dhcp"
let passes = arguments.count > 2 ? Int(arguments[2]) ?? 1000 : 1000
let corpus = WireCorpus.shared

if which == "sets" {
    for s in corpus.all { print("\(s.name)\t\(s.count) payloads\tmean \(s.meanSize) B") }
    for (name, list) in corpus.excluded { print("excluded\t\(name)\t\(list.count)\t\(list.joined(separator: " "))") }
    exit(0)
}

let workloads: [String: (PayloadSet, (UnsafeRawBufferPointer) -> Int)] = [
    "dhcp": (corpus.dhcp, Workloads.dhcpFullScan),
    "dhcp-parse": (corpus.dhcp, Workloads.dhcpParseOnly),
    "dns-query": (corpus.dnsQueries, Workloads.dnsQuery),
    "dns-response": (corpus.dnsResponses, Workloads.dnsResponse),
    "tftp-rrq": (corpus.tftpRequests, Workloads.tftp),
    "tftp-transfer": (corpus.tftpTransfer, Workloads.tftp),
    "http": (corpus.httpHeads, Workloads.httpHead),
]
guard let (set, work) = workloads[which] else {
    print("unknown workload \(which); one of: sets, \(workloads.keys.sorted().joined(separator: ", "))")
    exit(2)
}

var acc = 0
for _ in 0..<passes {
    for payload in set.payloads { acc &+= work(payload) }
}
print("\(which): \(passes) passes × \(set.count) payloads, checksum \(acc)")
