// swift-tools-version:6.1
// Parse benchmarks for the Wire codecs, kept in their own package so that the benchmark
// framework and its dependencies never enter the main build. Run with `./Benchmarks/run`
// (or `make bench`) from the repository root.
import PackageDescription

let package = Package(
    name: "RackPlaneBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "RackPlane", path: ".."),
        // The trait list replaces benchmark's default traits: on Linux with Swift 6.3 its
        // default "RuntimeInterposer" trait pulls in a package the local mirror doesn't have.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Corpus loading and the per-packet workloads, shared by the benchmark and the profiler.
        .target(
            name: "WireWorkloads",
            dependencies: [.product(name: "Wire", package: "RackPlane"), .product(name: "PacketCapture", package: "RackPlane")]
        ),

        .executableTarget(
            name: "WireCodecs",
            dependencies: ["WireWorkloads", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/WireCodecs",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),

        // One workload in a plain loop, for `valgrind --tool=callgrind` and `perf record`.
        .executableTarget(name: "wire-profile", dependencies: ["WireWorkloads"]),

        // The table compiler on a synthetic site of N machines and N records, phase by phase,
        // for `perf record` (issue 7: the region compiles 100k + 100k in under a second).
        .executableTarget(
            name: "tables-profile",
            dependencies: [.product(name: "Site", package: "RackPlane"), .product(name: "Tables", package: "RackPlane"),
                           .product(name: "Wire", package: "RackPlane")]
        ),

        // Engine benchmarks (issue 3): loopback UDP echo, 2,000 sockets, file to TCP. Its C part
        // counts allocations (replacing malloc in this executable only) and generates UDP load.
        .target(name: "CEngineBench"),
        .executableTarget(
            name: "engine-bench",
            dependencies: ["CEngineBench", .product(name: "Engine", package: "RackPlane")]
        ),

        // The rack's boot-step recorder (boot history): ns per recorded step, alone and with two
        // ring threads recording at once, and the report thread's drain.
        .executableTarget(name: "boot-recorder-bench", dependencies: [.product(name: "Rack", package: "RackPlane")]),
    ]
)
