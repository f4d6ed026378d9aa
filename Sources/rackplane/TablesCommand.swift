import ArgumentParser
import CLinuxShims
import Glibc
import Site
import Tables
import Wire

struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tables",
        abstract: "Compile, validate and inspect the lookup-table snapshots racks serve from.",
        subcommands: [TablesCompileCommand.self, TablesCheckCommand.self, TablesShowCommand.self]
    )
}

/// The bytes of the file at `path`.
func readBytes(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ValidationError("\(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw ValidationError("\(path): \(String(cString: strerror(errno)))") }
        if count == 0 { return bytes }
        bytes.append(contentsOf: chunk[..<count])
    }
}

/// Prints `message` to standard error and exits non-zero.
func fail(_ message: String) -> ExitCode {
    FileHandleStandardError.write(message + "\n")
    return ExitCode(1)
}

enum FileHandleStandardError {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

struct TablesCompileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile a site file into a table snapshot.")

    @Argument(help: "The site file (YAML, see docs/site-file.md).")
    var site: String

    @Option(name: .shortAndLong, help: "Where to write the snapshot.")
    var output: String

    @Option(help: "Generation number (default: the current Unix time, so it rises with each compile).")
    var generation: UInt64?

    /// For a standalone rack, which compiles in a child process (docs/rack.md): the dynamic
    /// leases whose hostnames the zones publish (`SiteLeaseNamesFile`).
    @Option(help: .hidden)
    var leaseNames: String?

    /// For a standalone rack: write OUTPUT as a new file, unsynced and unchecked; the rack
    /// checks it once when it opens it, and persists it.
    @Flag(help: .hidden)
    var staged = false

    func run() throws {
        // A rack's compiler ends with the rack (the child has a process group of its own, so a
        // Ctrl-C or a kill of the rack does not reach it otherwise).
        if staged, rp_die_with_parent() == 1 { throw ExitCode(1) }
        let configuration: SiteConfiguration
        var leases: [SiteLeaseName] = []
        do {
            configuration = try SiteFile.load(path: site)
            if let leaseNames {
                switch SiteLeaseNamesFile.decode(try readBytes(leaseNames)) {
                case .success(let names): leases = names
                case .failure(let error): throw fail("\(leaseNames): \(error)")
                }
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail("\(error)")
        }
        let now = UInt64(time(nil))
        do {
            let prepared = SiteCompiler.prepare(configuration, leases: leases)
            let bytes = try SiteCompiler.compile(prepared, generation: generation ?? now, createdAt: now, validate: !staged)
            if staged {
                try TableFile.writeStaged(bytes, to: output)
            } else {
                try TableFile.write(bytes, to: output)
            }
            print("\(output): generation \(generation ?? now), \(bytes.count) bytes, \(configuration.subnets.count) subnets, \(configuration.machines.count) machines")
        } catch {
            // A rack's staged file is its own temporary name: the rack logs the error alone.
            throw fail(staged ? "\(error)" : "\(output): \(error)")
        }
    }
}

struct TablesCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a snapshot without serving it: exits non-zero on any corruption.")

    @Argument(help: "The snapshot file.")
    var file: String

    func run() throws {
        do {
            let snapshot = try TableFile.open(file)
            print("\(file): ok, generation \(snapshot.generation), sha256 \(hexString(snapshot.digest))")
        } catch {
            throw fail("\(file): \(error)")
        }
    }
}

struct TablesShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a summary of a snapshot.")

    @Argument(help: "The snapshot file.")
    var file: String

    @Flag(help: "List every reservation, not only the count.")
    var reservations = false

    func run() throws {
        let s: TableSnapshot
        do {
            s = try TableFile.open(file)
        } catch {
            throw fail("\(file): \(error)")
        }
        func text(_ b: UnsafeRawBufferPointer) -> String { String(decoding: b, as: UTF8.self) }
        print("snapshot    \(file)")
        print("format      version \(s.version)")
        print("generation  \(s.generation)")
        print("created     \(s.createdAt)")
        print("sha256      \(hexString(s.digest))")
        print("size        \(s.bytes.count) bytes")
        print("domain      \(text(s.domain))")
        print("files       \(text(s.filesRoot))")
        print("upstream    \(s.upstreamDNS.map(\.description).joined(separator: ", "))")
        print("dhcp        \(s.isProxyDHCP ? "proxy" : "authoritative=\(s.isAuthoritative)"), decline quarantine \(s.declineQuarantineSeconds)s, \(s.perMACRequestsPerSecond) req/s per MAC")
        print("sections")
        for kind in TablesFormat.Section.allCases {
            print("  \(kind.name.padding(26))\(String(s.count(kind)).leftPadding(8)) records \(String(s.length(kind)).leftPadding(10)) bytes")
        }
        print("subnets")
        for i in 0..<s.subnetCount {
            let subnet = s.subnet(i)
            let pools = subnet.ranges.filter(\.isPool).map { "\($0.start)-\($0.end)" }.joined(separator: " ")
            let reserved = subnet.ranges.filter { !$0.isPool }.map { "\($0.start)-\($0.end)" }.joined(separator: " ")
            print("  \(subnet.network)/\(subnet.prefixLength) gateway \(subnet.gateway?.description ?? "-") next-server \(subnet.nextServer?.description ?? "-") lease \(subnet.leaseSeconds)s\(subnet.ignoresUnknownClients ? " known-clients-only" : "")")
            if !pools.isEmpty { print("    pools     \(pools)") }
            if !reserved.isEmpty { print("    reserved  \(reserved)") }
        }
        for i in 0..<s.bootProfileCount {
            let p = s.bootProfile(i)
            print("boot profile \(i): bios \(text(p.bios)) uefi-x64 \(text(p.uefiX64)) uefi-arm64 \(text(p.uefiArm64)) ipxe \(text(p.ipxeScript)) http \(text(p.httpBootURL))")
        }
        if !s.enlistBootArguments.isEmpty { print("enlist args \(text(s.enlistBootArguments))") }
        // The arguments carry per-boot report tokens: counted here, not printed.
        let withArguments = (0..<s.reservationCount).filter { !s.reservation($0).bootArguments.isEmpty }.count
        print("reservations \(s.reservationCount) (\(withArguments) with per-boot arguments)")
        if reservations {
            for i in 0..<s.reservationCount {
                let r = s.reservation(i)
                print("  \(r.mac) \(r.address?.description ?? "-") \(text(r.hostname)) \(r.purpose.name) \(r.architecture.name)")
            }
        }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
