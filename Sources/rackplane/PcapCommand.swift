import ArgumentParser
import Fleet
import Glibc
import PacketCapture
import Wire

struct PcapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcap",
        abstract: "Work with packet captures (pcap and pcapng).",
        subcommands: [PcapDecodeCommand.self, PcapRecordCommand.self, PcapReplayCommand.self]
    )
}

struct PcapDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Print one JSON object per line for every DHCP, DNS, TFTP and HTTP-request packet."
    )

    @Argument(help: "A pcap or pcapng file.")
    var file: String

    func run() throws {
        let capture: CaptureFile
        do {
            capture = try CaptureFile(path: file)
        } catch {
            throw ValidationError("\(file): \(error)")
        }
        var decoder = CaptureDecoder(linkType: capture.linkType)
        var output = OutputBuffer()
        try capture.forEachPacket { frame, bytes in
            decoder.decode(frame: frame, bytes: bytes) { output.writeLine($0) }
        }
        output.flush()
    }
}

/// `rackplane pcap record`: a bounded live capture of an interface (the rack's) to a pcap file.
struct PcapRecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Capture an interface's traffic to a pcap file (libpcap), bounded by --count and --duration.",
        discussion: """
        Writes every packet (or those --filter selects, in tcpdump's syntax) until --count packets \
        are written or --duration seconds pass, whichever comes first; SIGINT or SIGTERM stops it \
        early. The file is what tcpdump writes: `pcap decode` and `pcap replay` read it. Needs \
        root or CAP_NET_RAW.
        """)

    @Option(name: [.short, .long], help: "The interface to capture on (\"any\" for all).")
    var interface: String

    @Option(name: [.short, .long], help: "The pcap file to write.")
    var output: String

    @Option(help: "Stop after this many packets.")
    var count: Int?

    @Option(help: "Stop after this many seconds (at most 86400).")
    var duration: Double = 60

    @Option(help: "A capture filter, e.g. \"udp port 67 or udp port 69 or port 53 or tcp port 5248\".")
    var filter: String?

    @Option(help: "Bytes kept of each packet.")
    var snaplen: Int32 = 65535

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        guard duration > 0, duration <= 86400 else { throw ValidationError("--duration must be more than 0 and at most 86400 seconds") }
        guard snaplen >= 64, snaplen <= 262_144 else { throw ValidationError("--snaplen must be 64 to 262144") }
    }

    func run() throws {
        let capture: LiveCapture
        do {
            capture = try LiveCapture(interface: interface, path: output, filter: filter, snapshotLength: snaplen)
        } catch {
            throw fail("pcap record: \(error)")
        }
        StopSignals.install()
        let packets: Int
        do {
            packets = try capture.capture(maximumPackets: count, seconds: duration, shouldStop: { StopSignals.pending() != nil })
        } catch {
            throw fail("pcap record: \(error)")
        }
        FileHandleStandardError.write("\(output): \(packets) packets from \(interface)\n")
    }
}

/// `rackplane pcap replay FILE`: the client side of a capture sent again, every request checked
/// for an answer.
struct PcapReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-send a capture's client requests (DHCP, TFTP, DNS, HTTP) to a server and check each is answered.",
        discussion: """
        Takes the client side of FILE — DHCP requests to port 67, TFTP read requests, DNS queries \
        over UDP, HTTP GETs — and sends it to --server in capture order, each request waiting for \
        its answer. DHCP is relayed from --relay-address with the MACs and transaction ids \
        remapped (so replays collide neither with the original clients nor with each other) and \
        the server identifier and requested address taken from this server's own OFFER; the \
        same MACs are remapped in TFTP file names and HTTP targets. TFTP and HTTP transfers run \
        to the end of the file. --copies runs the capture's clients that many times at once.

        A refusal (NAK, TFTP ERROR, HTTP 404, NXDOMAIN) counts as answered and is listed; the \
        exit status is 0 only when every request that expects an answer got one.
        """)

    @Argument(help: "A pcap or pcapng file.")
    var file: String

    @Option(help: "The server to replay against.")
    var server: String

    @Option(help: "This host's address to relay DHCP from (giaddr; the replies come to its port 67).")
    var relayAddress: String

    @Option(help: "Copies of the capture's clients to run, each with its own MACs and xids.")
    var copies: Int = 1

    @Option(help: "Copies in flight at once.")
    var concurrency: Int = 64

    @Option(help: "Seconds to wait for each answer (requests are re-sent every second).")
    var timeout: Double = 5

    @Option(help: "Stop the whole replay after this many seconds.")
    var duration: Double = 300

    @Option(help: "The first replayed MAC; the others count up from it.")
    var firstMac: String = "02:10:00:00:00:01"

    @Option(help: "Server ports (other than the standard ones only for tests).")
    var dhcpPort: UInt16 = 67
    @Option var tftpPort: UInt16 = 69
    @Option var dnsPort: UInt16 = 53
    @Option var httpPort: UInt16 = 5248

    @Flag(help: "Print the outcome as one JSON object.")
    var json = false

    func run() throws {
        guard let server = IPv4Address(server) else { throw ValidationError("--server \(self.server) is not an IPv4 address") }
        guard let relay = IPv4Address(relayAddress) else { throw ValidationError("--relay-address \(relayAddress) is not an IPv4 address") }
        guard (1...100_000).contains(copies) else { throw ValidationError("--copies must be 1 to 100000") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard timeout > 0, timeout <= 600 else { throw ValidationError("--timeout must be more than 0 and at most 600 seconds") }
        guard duration > 0, duration <= 86400 else { throw ValidationError("--duration must be more than 0 and at most 86400 seconds") }
        guard let mac = MACAddress(firstMac), mac.octet(0) & 1 == 0 else { throw ValidationError("--first-mac \(firstMac) is not a unicast MAC address") }
        let requests: CaptureRequests
        do {
            requests = try CaptureRequests(path: file)
        } catch {
            throw fail("\(file): \(error)")
        }
        guard !requests.requests.isEmpty else {
            throw fail("\(file): no DHCP, TFTP, DNS or HTTP request to replay in \(requests.frames) frames")
        }
        var plan = ReplayPlan(server: server, relayAddress: relay)
        plan.copies = copies
        plan.concurrency = concurrency
        plan.timeout = timeout
        plan.duration = duration
        plan.firstMAC = mac
        plan.dhcpPort = dhcpPort
        plan.tftpPort = tftpPort
        plan.dnsPort = dnsPort
        plan.httpPort = httpPort
        _ = LoadRun.raiseDescriptorLimit()
        let replay: ReplayRun
        do {
            replay = try ReplayRun(plan: plan, requests: requests.requests)
        } catch {
            throw fail("pcap replay: \(error)")
        }
        StopSignals.install()
        var caught: Int32?
        let statistics = replay.run(shouldStop: {
            if caught == nil { caught = StopSignals.pending() }
            return caught != nil
        })
        let count = requests.requests.count
        if json {
            print(ReplayReport.json(statistics, file: file, plan: plan, requests: count, skipped: requests.skipped))
        } else {
            print(ReplayReport.text(statistics, file: file, plan: plan, requests: count, skipped: requests.skipped), terminator: "")
        }
        fflush(nil)
        if let caught { throw ExitCode(128 + caught) }
        if statistics.unanswered > 0 || statistics.stoppedBy != nil { throw ExitCode(1) }
    }
}
