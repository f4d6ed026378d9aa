// swift-tools-version:6.1
// libFuzzer targets, one per parser plus round-trip properties. A separate package so the
// sanitizer flags stay out of the main build; `./run` builds it with -sanitize=fuzzer,address.
import PackageDescription

let targets = ["FuzzDHCP", "FuzzDHCPRoundTrip", "FuzzDNS", "FuzzDNSRoundTrip", "FuzzTFTP", "FuzzHTTP", "FuzzHTTPResponse", "FuzzTables", "FuzzDNSResponder"]

let package = Package(
    name: "RackPlaneFuzz",
    dependencies: [.package(name: "RackPlane", path: "..")],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
    ] + targets.map { name in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport", .product(name: "WireChecks", package: "RackPlane")],
            path: "Sources/\(name)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    }
)
