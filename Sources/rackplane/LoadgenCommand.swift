import ArgumentParser
import Fleet
import Glibc
import Wire

/// `rackplane loadgen`: many simulated machines network-booting against a server at once.
struct LoadgenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "Simulate machines network-booting: DHCP, TFTP boot loader, HTTP kernel and initrd, DNS.",
        discussion: """
        Each machine does what a PXE ROM and its boot loader do: DHCP DISCOVER/OFFER/REQUEST/ACK \
        (relayed through --relay-address, or broadcast on --interface), a TFTP read of the boot \
        file the ACK names (blksize and tsize), HTTP GETs of --http-files on one keep-alive \
        connection, and a DNS lookup of its own name (the ACK's host name and domain). iPXE \
        machines given a script URL fetch it over HTTP instead of TFTP.

        The run is bounded by --count and --duration and ends by itself; Ctrl-C ends it early \
        with the report. On a terminal a progress line is drawn on standard error. The exit \
        status is 0 only when every machine booted, 128 + the signal when one stopped the run.
        """)

    @Option(help: "The server's address (DHCP in relay mode, TFTP, HTTP, DNS).")
    var server: String

    @Option(help: "Machines to simulate (1 to 1,000,000).")
    var count: Int = 100

    @Option(help: "Machines in flight at once.")
    var concurrency: Int = 256

    @Option(help: "Arrivals per second (0: as fast as --concurrency allows).")
    var rate: Double = 0

    @Option(help: "Stop after this many seconds, whatever is in flight (it counts as failed).")
    var duration: Double = 300

    @Option(help: "Relay mode: this host's address, written as giaddr; replies come back to its port 67.")
    var relayAddress: String?

    @Option(help: "Broadcast mode: the interface to broadcast DISCOVERs on (without --relay-address).")
    var interface: String?

    @Option(help: "The boot loader to fetch over TFTP (default: the boot file the ACK names).")
    var tftpFile: String?

    @Option(help: "Comma-separated paths fetched over HTTP after the boot loader (empty: none).")
    var httpFiles: String = "images/vmlinuz,images/initrd.gz"

    @Option(help: "Firmware mix by weight, e.g. bios=60,uefi=30,ipxe=10 (option 93 and user class).")
    var mix: String = "bios=1"

    @Option(help: "Comma-separated stages to run: dhcp,tftp,http,dns (dhcp is always run).")
    var stages: String = "dhcp,tftp,http,dns"

    @Option(help: "The first machine's MAC; the others count up from it.")
    var firstMac: String = "02:00:00:00:00:01"

    @Option(help: "Host names sent in option 12 are PREFIX-<the MAC in hex>, e.g. lg-020000000001.")
    var hostnamePrefix: String = "lg"

    @Option(help: "Domain for the DNS lookup when the ACK carries no option 15.")
    var domain: String?

    @Option(help: "Seconds DHCP and DNS may take, and TFTP and HTTP may go without progress.")
    var stageTimeout: Double = 30

    @Option(help: "Seconds before the first DHCP retransmission; it doubles, each randomized by ±1 s (RFC 2131 §4.1; PXE ROMs use 4).")
    var dhcpRetransmit: Double = 4

    @Option(help: "TFTP blksize to ask for (0: plain RFC 1350, 512-byte blocks).")
    var blksize: Int = 1468

    @Flag(help: "Fetch the boot file from --server even when the ACK names another next-server.")
    var ignoreNextServer = false

    @Option(help: "Receive buffer of each HTTP connection in KiB (0: the kernel's autotuning, which with thousands of downloads in one host drives it into TCP memory pressure).")
    var httpReceiveBuffer: Int = 256

    @Option(help: "Server ports (other than the standard ones only for tests).")
    var dhcpPort: UInt16 = 67
    @Option var tftpPort: UInt16 = 69
    @Option var httpPort: UInt16 = 5248
    @Option var dnsPort: UInt16 = 53

    @Flag(help: "Print the summary as one JSON object instead of the table.")
    var json = false

    @Flag(inversion: .prefixedNo, help: "Draw the progress line (default: when standard error is a terminal).")
    var progress: Bool?

    func makePlan() throws -> LoadPlan {
        guard let server = IPv4Address(server) else { throw ValidationError("--server \(self.server) is not an IPv4 address") }
        var plan = LoadPlan(server: server)
        guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be 1 to 1000000") }
        plan.count = count
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        plan.concurrency = concurrency
        guard rate >= 0, rate.isFinite else { throw ValidationError("--rate must be 0 or more arrivals per second") }
        plan.rate = rate
        guard duration > 0, duration <= 86400 else { throw ValidationError("--duration must be more than 0 and at most 86400 seconds") }
        plan.duration = duration
        guard stageTimeout > 0, stageTimeout <= 3600 else { throw ValidationError("--stage-timeout must be more than 0 and at most 3600 seconds") }
        plan.stageTimeout = stageTimeout
        guard dhcpRetransmit >= 0.1, dhcpRetransmit <= 64 else { throw ValidationError("--dhcp-retransmit must be 0.1 to 64 seconds") }
        plan.dhcpRetransmit = dhcpRetransmit
        if let relayAddress {
            guard let relay = IPv4Address(relayAddress) else { throw ValidationError("--relay-address \(relayAddress) is not an IPv4 address") }
            plan.relayAddress = relay
        } else if interface == nil {
            throw ValidationError("give --relay-address ADDRESS (relay mode) or --interface NAME (broadcast mode)")
        }
        plan.interface = interface
        plan.tftpFile = tftpFile
        plan.httpFiles = httpFiles.split(separator: ",").map(String.init).filter { !$0.isEmpty }
        do {
            plan.mix = try FirmwareMix(parsing: mix)
        } catch {
            throw ValidationError(error.description)
        }
        var chosen = Set<Stage>()
        for name in stages.split(separator: ",") {
            guard let stage = Stage(rawValue: String(name)) else {
                throw ValidationError("--stages: '\(name)' is not one of dhcp, tftp, http, dns")
            }
            chosen.insert(stage)
        }
        chosen.insert(.dhcp)
        plan.stages = chosen
        guard let mac = MACAddress(firstMac) else { throw ValidationError("--first-mac \(firstMac) is not a MAC address") }
        guard mac.octet(0) & 1 == 0 else { throw ValidationError("--first-mac \(firstMac) is a group address") }
        guard mac.value + UInt64(count) <= 0xFFFF_FFFF_FFFF else { throw ValidationError("--first-mac plus --count runs past ff:ff:ff:ff:ff:ff") }
        plan.firstMAC = mac
        guard !hostnamePrefix.isEmpty, hostnamePrefix.count <= 50,
              hostnamePrefix.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D }) else {
            throw ValidationError("--hostname-prefix must be 1 to 50 letters, digits and hyphens")
        }
        plan.hostNamePrefix = hostnamePrefix
        plan.domain = domain
        guard blksize == 0 || (8...65464).contains(blksize) else { throw ValidationError("--blksize must be 0 or 8 to 65464 (RFC 2348)") }
        plan.blockSize = blksize == 0 ? nil : UInt16(blksize)
        plan.followNextServer = !ignoreNextServer
        guard (0...65536).contains(httpReceiveBuffer) else { throw ValidationError("--http-receive-buffer must be 0 to 65536 KiB") }
        plan.httpReceiveBuffer = httpReceiveBuffer * 1024
        plan.dhcpPort = dhcpPort
        plan.tftpPort = tftpPort
        plan.httpPort = httpPort
        plan.dnsPort = dnsPort
        return plan
    }

    func run() throws {
        let plan = try makePlan()
        let limit = LoadRun.raiseDescriptorLimit()
        guard plan.concurrency + 64 <= limit else {
            throw ValidationError("--concurrency \(plan.concurrency) needs a descriptor per machine; the limit here is \(limit) (ulimit -n)")
        }
        let load: LoadRun
        do {
            load = try LoadRun(plan: plan)
        } catch {
            throw fail("loadgen: \(error)")
        }
        StopSignals.install()
        let drawing = progress ?? (isatty(2) != 0)
        var bar = ProgressBar()
        var caught: Int32?
        let statistics = load.run(progress: { snapshot in
            guard drawing else { return }
            FileHandleStandardError.write(bar.frame(snapshot))
        }, shouldStop: {
            if caught == nil { caught = StopSignals.pending() }
            return caught != nil
        })
        if drawing { FileHandleStandardError.write(ProgressBar.clear) }
        print(json ? LoadReport.json(statistics, plan: plan) : LoadReport.text(statistics, plan: plan), terminator: json ? "\n" : "")
        fflush(nil)
        // Interrupted: 128 + the signal, as a shell reports a command a signal ended.
        if let caught { throw ExitCode(128 + caught) }
        if statistics.booted != statistics.requested { throw ExitCode(1) }
    }
}
