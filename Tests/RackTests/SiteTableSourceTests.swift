import Glibc
import Testing
@testable import Rack
import Site
import Tables
import Wire

/// A standalone rack's site compile when its compiler process cannot run, fails, or writes
/// nothing: the first compiles in the rack instead; the others throw and leave the persisted
/// snapshot and the state directory as they were. (The real child, `rackplane tables compile
/// --staged`, runs in the integration tests, which start the `rackplane` binary.)
struct SiteTableSourceTests {
    static let site = """
        domain: maas.test
        subnets:
          - cidr: 198.18.0.0/24
        machines:
          - {hostname: node01, mac: "52:54:00:00:00:01", ip: 198.18.0.21}
        """

    /// A state directory holding the site file.
    func stateWithSite() throws -> (ScratchDirectory, sitePath: String) {
        let scratch = try ScratchDirectory("rackplane-site-source")
        let sitePath = scratch.path + "/site.yaml"
        do {
            try TableFile.writeStaged(Array(Self.site.utf8), to: sitePath)
        } catch {
            scratch.remove()
            throw error
        }
        return (scratch, sitePath)
    }

    @Test func aCompilerThatCannotRunFallsBackToThisProcess() throws {
        let (scratch, sitePath) = try stateWithSite()
        defer { scratch.remove() }
        let state = scratch.path
        let source = SiteTableSource(sitePath: sitePath, stateDirectory: state,
                                     compilerExecutable: "/nonexistent/rackplane", log: RackLog())
        source.leases = [SiteLeaseName(hostname: "laptop", address: IPv4Address(198, 18, 0, 150))]
        let snapshot = try source.load()
        #expect(snapshot.reservation(mac: MACAddress("52:54:00:00:00:01")!) != nil)
        #expect(scratch.entries == ["site.yaml", "tables.snapshot"])
    }

    @Test func aCompilerThatFailsOrWritesNothingChangesNothing() throws {
        let (scratch, sitePath) = try stateWithSite()
        defer { scratch.remove() }
        let state = scratch.path
        let first = try SiteTableSource(sitePath: sitePath, stateDirectory: state, log: RackLog()).load()
        for executable in ["/bin/false", "/bin/true"] {
            let source = SiteTableSource(sitePath: sitePath, stateDirectory: state, compilerExecutable: executable, log: RackLog())
            source.leases = [SiteLeaseName(hostname: "laptop", address: IPv4Address(198, 18, 0, 150))]
            let error = #expect(throws: (any Error).self) { try source.load() }
            if executable == "/bin/false" {
                #expect("\(error!)" == "the site compiler exited with status 1")
            }
            #expect(scratch.entries == ["site.yaml", "tables.snapshot"])
            #expect(try TableFile.open(state + "/tables.snapshot").generation == first.generation)
        }
    }

    @Test func whatTheCompilerPrintedIsTheError() {
        let failure = SiteCompileFailure(status: 1, output: "Error: site.yaml:3: cidr 198.18.0.0/33 is not a network\n")
        #expect(failure.description == "site.yaml:3: cidr 198.18.0.0/33 is not a network")
        #expect(SiteCompileFailure(status: 137, output: "").description == "the site compiler exited with status 137")
    }
}
