import Foundation
import Tables
import Testing
import WireChecks

/// Replays every kept fuzz finding (`fuzz/regressions/<target>/`) through the same property its
/// fuzz target checks, so a fixed bug stays fixed in the normal test run.
@Suite struct FuzzRegressionTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/fuzz/regressions"
    }()

    static func inputs(_ target: String) -> [(String, [UInt8])] {
        let folder = root + "/" + target
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().compactMap { name in
            FileManager.default.contents(atPath: folder + "/" + name).map { (name, [UInt8]($0)) }
        }
    }

    @Test func dhcpAccessors() {
        for (_, bytes) in Self.inputs("FuzzDHCP") + Self.inputs("FuzzDHCPRoundTrip") {
            bytes.withUnsafeBytes { DHCPChecks.exerciseAccessors($0) }
        }
    }

    @Test func dhcpRoundTrip() {
        let inputs = Self.inputs("FuzzDHCPRoundTrip") + Self.inputs("FuzzDHCP")
        #expect(!inputs.isEmpty, "fuzz/regressions holds the DHCP findings")
        for (name, bytes) in inputs {
            let violation = bytes.withUnsafeBytes { DHCPChecks.roundTrip($0) }
            #expect(violation == nil, "\(name): \(violation ?? "")")
        }
    }

    /// A property that returns a violation, over every finding of the given targets.
    static func replay(_ targets: [String], _ property: (UnsafeRawBufferPointer) -> String?) {
        for target in targets {
            for (name, bytes) in inputs(target) {
                let violation = bytes.withUnsafeBytes { property($0) }
                #expect(violation == nil, "\(target)/\(name): \(violation ?? "")")
            }
        }
    }

    @Test func dnsExerciseAll() {
        Self.replay(["FuzzDNS", "FuzzDNSRoundTrip"], DNSChecks.exerciseAll)
    }

    @Test func dnsRoundTrip() {
        Self.replay(["FuzzDNSRoundTrip", "FuzzDNS"], DNSChecks.roundTrip)
    }

    @Test func tftpExerciseAll() {
        Self.replay(["FuzzTFTP"], TFTPChecks.exerciseAll)
    }

    @Test func tftpWriteParse() {
        Self.replay(["FuzzTFTP"], TFTPChecks.writeParse)
    }

    @Test func httpIncremental() {
        Self.replay(["FuzzHTTP"], HTTPChecks.incremental)
    }

    @Test func httpResponseIncremental() {
        Self.replay(["FuzzHTTPResponse"], HTTPResponseChecks.incremental)
    }

    @Test func dnsResponder() {
        Self.replay(["FuzzDNSResponder", "FuzzDNS"], DNSResponderChecks.answer)
    }

    @Test func tablesReader() {
        // The reader must survive whatever is kept, and accept the compiler's own output.
        for (_, bytes) in Self.inputs("FuzzTables") { bytes.withUnsafeBytes { TablesChecks.exerciseReader($0) } }
        let sample = TablesChecks.sampleSnapshot()
        sample.withUnsafeBytes { TablesChecks.exerciseReader($0) }
        #expect((try? TableSnapshot(sample)) != nil)
    }
}
