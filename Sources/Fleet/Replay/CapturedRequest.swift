import PacketCapture
import Wire

/// The protocols capture replay re-sends.
public enum ReplayProtocol: String, CaseIterable, Sendable {
    case dhcp, tftp, dns, http
}

/// One request a client sent in a capture: its payload and what it was.
public struct CapturedRequest: Sendable {
    /// 1-based frame number in the capture.
    public let frame: Int
    public let proto: ReplayProtocol
    /// The UDP payload (DHCP message, TFTP RRQ, DNS query) or the HTTP request head.
    public let bytes: [UInt8]
    /// DHCP: the client's chaddr (what replay remaps).
    public let clientMAC: MACAddress?
    /// One line for reports: "DHCP DISCOVER xid 0x5bb07f73", "TFTP RRQ pxelinux.0".
    public let summary: String

    public init(frame: Int, proto: ReplayProtocol, bytes: [UInt8], clientMAC: MACAddress? = nil, summary: String) {
        self.frame = frame
        self.proto = proto
        self.bytes = bytes
        self.clientMAC = clientMAC
        self.summary = summary
    }
}

/// Picks the client side out of a capture with Wire's framing and protocol codecs: DHCP
/// BOOTREQUESTs to port 67, TFTP read requests to port 69, DNS queries to port 53 over UDP, and
/// HTTP GET request heads (whole in one TCP segment; retransmitted segments counted once).
/// Everything else — replies, TFTP ACKs of transfers replay drives itself, other traffic — is
/// left out; requests that cannot be replayed are counted in `skipped` by reason.
public struct CaptureRequests: Sendable {
    public private(set) var requests: [CapturedRequest] = []
    public private(set) var skipped: [String: Int] = [:]
    public private(set) var frames = 0

    public init(requests: [CapturedRequest], skipped: [String: Int] = [:]) {
        self.requests = requests
        self.skipped = skipped
    }

    public init(path: String) throws {
        let capture = try CaptureFile(path: path)
        var seenSegments = Set<String>()
        let linkType = capture.linkType
        try capture.forEachPacket { frame, bytes in
            frames = frame
            add(frame: frame, bytes: bytes, linkType: linkType, seenSegments: &seenSegments)
        }
    }

    private mutating func add(frame: Int, bytes: UnsafeRawBufferPointer, linkType: Int32, seenSegments: inout Set<String>) {
        guard let (etherType, packet) = try? LinkLayer.networkLayer(linkType: linkType, frame: bytes),
              etherType == EtherType.ipv4, let ip = try? IPv4Packet(parsing: packet) else { return }
        if ip.isFragment {
            if ip.fragmentOffset == 0 { skipped["fragmented", default: 0] += 1 }
            return
        }
        if ip.proto == IPProtocol.udp, let udp = try? UDPDatagram(parsing: ip.payload) {
            addUDP(frame: frame, port: udp.destinationPort, payload: udp.payload)
        } else if ip.proto == IPProtocol.tcp, let tcp = try? TCPSegment(parsing: ip.payload), !tcp.payload.isEmpty {
            guard Self.startsRequest(tcp.payload) else { return }
            let key = "\(ip.source):\(tcp.sourcePort)>\(ip.destination):\(tcp.destinationPort)#\(tcp.sequenceNumber)"
            guard seenSegments.insert(key).inserted else { return }
            addHTTP(frame: frame, payload: tcp.payload)
        }
    }

    private mutating func addUDP(frame: Int, port: UInt16, payload: UnsafeRawBufferPointer) {
        switch port {
        case 67:
            guard let message = try? DHCPMessage(parsing: payload) else {
                skipped["dhcp unparsable", default: 0] += 1
                return
            }
            guard message.op == 1 else { return }
            guard let mac = message.clientMAC else {
                skipped["dhcp without an Ethernet chaddr", default: 0] += 1
                return
            }
            let type = message.messageType?.name ?? "BOOTP"
            let xid = String(message.xid, radix: 16)
            requests.append(CapturedRequest(frame: frame, proto: .dhcp, bytes: Array(payload), clientMAC: mac,
                                            summary: "DHCP \(type) xid 0x\(String(repeating: "0", count: 8 - xid.count) + xid) from \(mac)"))
        case 69:
            guard let packet = try? TFTPPacket.parse(payload) else {
                skipped["tftp unparsable", default: 0] += 1
                return
            }
            switch packet {
            case .readRequest(let request):
                requests.append(CapturedRequest(frame: frame, proto: .tftp, bytes: Array(payload),
                                                summary: "TFTP RRQ \(String(decoding: request.filename, as: UTF8.self))"))
            case .writeRequest:
                skipped["tftp write request", default: 0] += 1
            default:
                return
            }
        case 53:
            guard let message = try? DNSMessage(parsing: payload) else {
                skipped["dns unparsable", default: 0] += 1
                return
            }
            guard !message.header.qr else { return }
            var summary = "DNS query"
            if let question = message.question {
                let name = question.name.labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
                summary = "DNS \(question.type) \(name.isEmpty ? "." : name)"
            }
            requests.append(CapturedRequest(frame: frame, proto: .dns, bytes: Array(payload), summary: summary))
        default:
            return
        }
    }

    private mutating func addHTTP(frame: Int, payload: UnsafeRawBufferPointer) {
        switch try? HTTPRequestHead.parse(payload) {
        case .complete(let head)?:
            guard head.method == .get else {
                skipped["http method other than GET", default: 0] += 1
                return
            }
            let target = String(decoding: head.target, as: UTF8.self)
            requests.append(CapturedRequest(frame: frame, proto: .http,
                                            bytes: Array(UnsafeRawBufferPointer(rebasing: payload[0..<head.length])),
                                            summary: "HTTP GET \(target)"))
        case .incomplete?:
            skipped["http head split over segments", default: 0] += 1
        case nil:
            skipped["http unparsable", default: 0] += 1
        }
    }

    /// An upper-case method token and a space: the start of a request line.
    static func startsRequest(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i < bytes.count, i < 16 {
            let b = bytes[i]
            if b == UInt8(ascii: " ") { return i >= 3 }
            guard b >= UInt8(ascii: "A"), b <= UInt8(ascii: "Z") else { return false }
            i += 1
        }
        return false
    }
}
