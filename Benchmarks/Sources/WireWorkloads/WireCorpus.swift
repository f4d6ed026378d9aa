import Wire

/// The payload sets the benchmarks run over, selected from the shared captures once at start-up.
///
/// A payload goes into a set only if the codec accepts it (checked here, untimed), so every
/// timed call takes the success path; what was left out is counted in `excluded`.
public struct WireCorpus: @unchecked Sendable {
    public let dhcp: PayloadSet
    public let dnsQueries: PayloadSet
    public let dnsResponses: PayloadSet
    public let tftpRequests: PayloadSet
    public let tftpTransfer: PayloadSet
    public let httpCaptured: PayloadSet
    public let httpHeads: PayloadSet
    /// Set name → the payloads ("file#frame") left out because the codec rejected them.
    public let excluded: [(String, [String])]

    public var all: [PayloadSet] { [dhcp, dnsQueries, dnsResponses, tftpRequests, tftpTransfer, httpCaptured, httpHeads] }

    /// Loaded on first use; loading is never inside a timed region.
    public static let shared: WireCorpus = {
        do {
            return try WireCorpus()
        } catch {
            fatalError("loading the corpus from \(Captures.root): \(error)")
        }
    }()

    /// pxe/*.pcap and tcpdump/dhcp*.pcap; the two `bootp_asan` crashers are left out by name,
    /// and the two known-malformed frames of dhcp-rfc4388.pcap fail the parse check.
    public static let dhcpCaptures = [
        "pxe/ipxe-boot.pcap", "pxe/pxelinux-boot.pcap",
        "tcpdump/dhcp-mud.pcap", "tcpdump/dhcp-option-108.pcapng", "tcpdump/dhcp-option-33.pcap",
        "tcpdump/dhcp-rfc3004.pcap", "tcpdump/dhcp-rfc4388.pcap", "tcpdump/dhcp-rfc5859.pcap",
        "tcpdump/dhcpv4v6-rfc5970-rfc8572.pcap",
    ]
    /// DNS over UDP; the zlip and badlabel captures are crashers (pointer loops, bad labels).
    public static let dnsCaptures = [
        "tcpdump/dns_udp.pcap", "tcpdump/dns_udp_2.pcap", "tcpdump/dns_udp_8053.pcap", "tcpdump/edns-opts.pcap",
        "tcpdump/dns-badcookie.pcap", "tcpdump/dns-badvers.pcap", "tcpdump/dns-uri.pcap", "tcpdump/dnssec.pcap",
        "tcpdump/dns_fwdptr.pcap", "tcpdump/ppp_ip_udp_dns.pcap",
    ]
    /// All UDP in these that is not DHCP is TFTP (requests to 69, then transfer ports).
    public static let tftpCaptures = ["tcpdump/tftp.pcap", "pxe/ipxe-boot.pcap", "pxe/pxelinux-boot.pcap"]
    public static let httpCaptures = ["pxe/ipxe-boot.pcap", "tcpdump/ipv4_tcp_http_xml.pcap", "tcpdump/ipv4_tcp_http_xml_tso.pcap"]

    static let dhcpPorts: Set<UInt16> = [67, 68, 4011]
    static let dnsPorts: Set<UInt16> = [53, 8053]

    public init() throws {
        var excluded: [(String, [String])] = []

        var dhcp: [[UInt8]] = []
        var dhcpBad: [String] = []
        for file in Self.dhcpCaptures {
            for p in try Captures.payloads(file) where p.isUDP && Self.dhcpPorts.contains(p.sourcePort) && Self.dhcpPorts.contains(p.destinationPort) {
                if Self.accepts(p.bytes, { (b) throws(WireError) in _ = try DHCPMessage(parsing: b) }) { dhcp.append(p.bytes) } else { dhcpBad.append("\(file)#\(p.frame)") }
            }
        }
        excluded.append(("dhcp", dhcpBad))

        var queries: [[UInt8]] = []
        var responses: [[UInt8]] = []
        var dnsBad: [String] = []
        for file in Self.dnsCaptures {
            for p in try Captures.payloads(file) where p.isUDP && (Self.dnsPorts.contains(p.sourcePort) || Self.dnsPorts.contains(p.destinationPort)) {
                var isResponse = false
                let ok = Self.accepts(p.bytes) { (b) throws(WireError) in
                    let message = try DNSMessage(parsing: b)
                    isResponse = message.header.qr
                    var records = message.records
                    while let record = try records.next() { _ = try record.data() }
                }
                if !ok { dnsBad.append("\(file)#\(p.frame)") } else if isResponse { responses.append(p.bytes) } else { queries.append(p.bytes) }
            }
        }
        excluded.append(("dns", dnsBad))

        var requests: [[UInt8]] = []
        var transfer: [[UInt8]] = []
        var tftpOther: [String] = []
        for file in Self.tftpCaptures {
            for p in try Captures.payloads(file) where p.isUDP && !Self.dhcpPorts.contains(p.sourcePort) && !Self.dhcpPorts.contains(p.destinationPort) && !Self.dnsPorts.contains(p.destinationPort) {
                var opcode: TFTPOpcode?
                let ok = Self.accepts(p.bytes) { (b) throws(WireError) in opcode = try TFTPPacket.parse(b).opcode }
                switch (ok, opcode) {
                case (true, .readRequest): requests.append(p.bytes)
                case (true, .data), (true, .acknowledgement): transfer.append(p.bytes)
                default: tftpOther.append("\(file)#\(p.frame)")  // OACK, ERROR, or not TFTP
                }
            }
        }
        excluded.append(("tftp (not RRQ/DATA/ACK)", tftpOther))

        var http: [[UInt8]] = []
        for file in Self.httpCaptures {
            for p in try Captures.payloads(file) where !p.isUDP {
                if case .complete? = Self.httpHead(p.bytes) { http.append(p.bytes) }
            }
        }

        self.dhcp = PayloadSet(name: "dhcp", dhcp)
        self.dnsQueries = PayloadSet(name: "dns-queries", queries)
        self.dnsResponses = PayloadSet(name: "dns-responses", responses)
        self.tftpRequests = PayloadSet(name: "tftp-rrq", requests)
        self.tftpTransfer = PayloadSet(name: "tftp-data-ack", transfer)
        self.httpCaptured = PayloadSet(name: "http-captured", http)
        self.httpHeads = PayloadSet(name: "http-heads", HTTPHeads.realistic.map { Array($0.utf8) } + http)
        self.excluded = excluded
    }

    static func accepts(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(WireError) -> Void) -> Bool {
        bytes.withUnsafeBytes { b in
            do throws(WireError) {
                try body(b)
                return true
            } catch {
                return false
            }
        }
    }

    static func httpHead(_ bytes: [UInt8]) -> HTTPHeadParseResult? {
        bytes.withUnsafeBytes { try? HTTPRequestHead.parse($0) }
    }
}

/// Request heads as the boot clients send them: iPXE fetching a kernel and initrd (it sends no
/// conditional or range headers), curl resuming a download with Range, and a cache revalidating
/// with If-None-Match. The corpus holds only three real requests, so these widen the set.
public enum HTTPHeads {
    public static let realistic: [String] = [
        "GET /images/jammy/amd64/vmlinuz HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1+ (g8f1f2)\r\nHost: 10.20.0.1:5248\r\n\r\n",
        "GET /images/jammy/amd64/initrd.img HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1+ (g8f1f2)\r\nHost: 10.20.0.1:5248\r\n\r\n",
        "GET /images/jammy/amd64/squashfs HTTP/1.1\r\nHost: 10.20.0.1:5248\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nRange: bytes=104857600-\r\n\r\n",
        "GET /images/jammy/amd64/squashfs HTTP/1.1\r\nHost: 10.20.0.1:5248\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nRange: bytes=0-1048575, 2097152-3145727\r\nIf-None-Match: \"5f3a9c1e-2a00000\"\r\n\r\n",
        "GET /boot/ipxe.efi HTTP/1.1\r\nHost: 10.20.0.1:5248\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nIf-None-Match: \"64b1f0c2-f4800\", W/\"64b1f0c2-f4801\"\r\nIf-Modified-Since: Sat, 15 Jul 2023 01:02:03 GMT\r\n\r\n",
        "HEAD /images/jammy/amd64/vmlinuz HTTP/1.1\r\nHost: 10.20.0.1:5248\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    ]
}
