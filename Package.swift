// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "RackPlane",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rackplane", targets: ["rackplane"]),
        .library(name: "Wire", targets: ["Wire"]),
        .library(name: "WireChecks", targets: ["WireChecks"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Tables", targets: ["Tables"]),
        .library(name: "PacketCapture", targets: ["PacketCapture"]),
        .library(name: "Site", targets: ["Site"]),
        // For Benchmarks/ (the boot-step recorder's cost); the rack is run through `rackplane`.
        .library(name: "Rack", targets: ["Rack"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // System libraries. Each module map includes the socket headers before the library's own
        // (see Sources/CLibURing/shim.h for why).
        .systemLibrary(name: "CLibURing", pkgConfig: "liburing", providers: [.apt(["liburing-dev"])]),
        .systemLibrary(name: "CLibPcap", providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // Power (issue 10): libcurl for Redfish and webhooks over HTTPS; libcrypto for AES-GCM
        // over stored power parameters (both already linked through URLSession and libpq).
        .systemLibrary(name: "CLibCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Power drivers (qmp, webhook, redfish, ipmi, manual), run by racks; Foundation allowed.
        .target(name: "Power", dependencies: ["CLibCurl"]),

        // Pure codecs: standard library only, no Foundation.
        .target(name: "Wire"),

        // Compiled lookup tables: the snapshot format, builder, and zero-copy reader. libcrypto
        // only for SHA-256 (the snapshot's content address), where it is 7× portable code.
        .target(name: "Tables", dependencies: ["Wire", "CLibCrypto"]),

        // Protocol policy: (request, tables, state, clock) → verdict. No I/O.
        .target(name: "Responders", dependencies: ["Wire", "Tables"]),

        // The rack: services on the engine, table swaps, lease journal, metrics.
        .target(name: "Rack", dependencies: [
            "Engine", "Responders", "Tables", "Site", "LeaseStore", "Wire", "CLinuxShims", "Power", "ChildProcesses",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Codec properties shared by the fuzz targets and the tests that replay their findings.
        .target(name: "WireChecks", dependencies: ["Wire", "Tables", "Responders"]),

        // C for what Swift's Glibc module lacks (recvmmsg/sendmmsg, CMSG_* macros, splice).
        .target(name: "CLinuxShims"),

        // The data-plane engine: io_uring rings, epoll fallback, in-memory backend. Knows no protocol.
        .target(name: "Engine", dependencies: ["CLibURing", "CLinuxShims"]),

        // Reading (and later writing) capture files through libpcap, shared by the CLI and tests.
        .target(name: "PacketCapture", dependencies: ["CLibPcap"]),

        // Simulated machines booting against a server, and capture replay: the load side of
        // `rackplane loadgen` and `pcap replay`. Plain sockets and epoll, not the engine.
        .target(name: "Fleet", dependencies: [
            "Wire", "PacketCapture", "CLinuxShims",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),

        // posix_spawn for daemons' children (the region's squid and PostgreSQL tools, the
        // standalone rack's site compiler). Glibc only.
        .target(name: "ChildProcesses", dependencies: ["CLinuxShims"]),

        // The rack's DHCP lease journal: append-only file, group commit, compaction. Stdlib + Glibc.
        .target(name: "LeaseStore"),

        // The standalone rack's site file (YAML) parsed into a validated model; Foundation allowed here.
        .target(name: "Site", dependencies: ["Wire", "Tables", .product(name: "Yams", package: "Yams")]),

        // The region: PostgreSQL store (libpq), REST API (Hummingbird), compiler into snapshots.
        // Site is here so the compiler builds a SiteConfiguration and reuses SiteCompiler.
        .target(
            name: "Region",
            dependencies: [
                "Tables", "Site", "Wire", "CLibPQ", "CLinuxShims", "Power", "CLibCrypto", "ChildProcesses",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            // SQL migrations, and the web UI's Mustache templates and static files: all compiled
            // into the binary, so a region is one file.
            resources: [.embedInCode("Store/Migrations"), .embedInCode("UI/Templates"), .embedInCode("UI/Static")]
        ),

        .executableTarget(
            name: "rackplane",
            dependencies: [
                "Wire", "Tables", "Site", "Responders", "Engine", "Rack", "LeaseStore", "PacketCapture", "CLibPcap", "CLibURing", "CLibPQ", "Region", "Fleet", "CLinuxShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // The daemons' settings files (/etc/rackplane/*.yaml).
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "WireTests", dependencies: ["Wire", "WireChecks", "Tables", "PacketCapture"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine"]),
        .testTarget(name: "LeaseStoreTests", dependencies: ["LeaseStore"]),
        .testTarget(name: "FleetTests", dependencies: ["Fleet", "Wire", "Responders", "Tables", "Site"]),
        .testTarget(name: "TablesTests", dependencies: ["Tables", "Wire"]),
        .testTarget(name: "RespondersTests", dependencies: ["Responders", "Tables", "Wire", "Site"]),
        .testTarget(name: "SiteTests", dependencies: ["Site", "Tables"]),
        .testTarget(name: "PowerTests", dependencies: ["Power"]),
        .testTarget(name: "RackTests", dependencies: ["Rack", "Site", "Tables", "Wire"]),
        .testTarget(name: "RegionTests", dependencies: [
            "Region", "Tables", "Site", "Wire", "Responders",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
    ]
)
