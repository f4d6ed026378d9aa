// What boot history costs a connected rack's ring threads: `BootRecorder.record` once per
// finished TFTP transfer, image HTTP response and boot ACK (never per packet). Prints ns per
// step for one thread, for two threads recording at once (the DHCP ring and a TFTP/HTTP ring
// contending for the lock), and for the report thread's drain into `Report` values.
//
//   swift build -c release --package-path Benchmarks --product boot-recorder-bench
//   Benchmarks/.build/release/boot-recorder-bench [steps]
import Foundation
import Rack

let steps = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 4_000_000 : 4_000_000
let name = Array("ubuntu/noble/amd64/boot-initrd".utf8)

func now() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

func recordLoop(_ recorder: BootRecorder, _ count: Int, salt: UInt32) {
    name.withUnsafeBytes { bytes in
        for i in 0..<count {
            recorder.record(.tftp, address: 0xC612_0000 | (UInt32(truncatingIfNeeded: i) & 0xFFFF) ^ salt, name: bytes,
                            outcome: "ok", bytes: UInt64(i))
        }
    }
}

// One thread (the ring never fills: a drain between rounds, as the region link does each second).
var best = Double.infinity
for _ in 0..<5 {
    let recorder = BootRecorder()
    let rounds = steps / BootRecorder.defaultCapacity
    var elapsed: UInt64 = 0
    for _ in 0..<rounds {
        let start = now()
        recordLoop(recorder, BootRecorder.defaultCapacity, salt: 0)
        elapsed += now() - start
        _ = recorder.drain()
    }
    best = min(best, Double(elapsed) / Double(rounds * BootRecorder.defaultCapacity))
}
print(String(format: "record, one thread:              %6.1f ns/step", best))

// Two threads at once, a full ring overwriting (the worst case: no drain, both contending).
var bestPair = Double.infinity
for _ in 0..<5 {
    let recorder = BootRecorder()
    let group = DispatchGroup()
    let start = now()
    for thread in 0..<2 {
        group.enter()
        Thread.detachNewThread {
            recordLoop(recorder, steps / 2, salt: UInt32(thread) << 16)
            group.leave()
        }
    }
    group.wait()
    bestPair = min(bestPair, Double(now() - start) / Double(steps))
}
print(String(format: "record, two threads contending:  %6.1f ns/step (wall per step, both threads)", bestPair))

// The report thread: drain a full ring into reports.
var bestDrain = Double.infinity
for _ in 0..<5 {
    let recorder = BootRecorder()
    recordLoop(recorder, BootRecorder.defaultCapacity, salt: 0)
    let start = now()
    let reports = recorder.drain()
    bestDrain = min(bestDrain, Double(now() - start) / Double(reports.count))
}
print(String(format: "drain into reports:              %6.1f ns/step (the region link's thread, once a second)", bestDrain))
