import Wire

/// Walks captured frames down to UDP/TCP and hands DHCP, DNS, TFTP and HTTP-request payloads to
/// their decoders. Stateful where the protocols are: TFTP transfers continue on ports learnt
/// from the request, and DNS over TCP and HTTP heads may span segments, so those streams are
/// reassembled (in order; retransmitted bytes are skipped).
struct CaptureDecoder {
    static let dhcpPorts: Set<UInt16> = [67, 68, 4011]
    static let dnsPorts: Set<UInt16> = [53, 5353, 8053]
    static let tftpPort: UInt16 = 69
    /// A stream buffer never grows past this; a longer head or message is reported as an error.
    static let streamLimit = 1 << 17

    let linkType: Int32
    /// Client endpoints ("ip:port") of TFTP transfers seen starting.
    private var tftpClients: Set<String> = []
    private var streams: [StreamKey: Stream] = [:]

    init(linkType: Int32) { self.linkType = linkType }

    private struct StreamKey: Hashable {
        let source: String
        let destination: String
        let sourcePort: UInt16
        let destinationPort: UInt16
    }

    private struct Stream {
        var nextSequence: UInt32
        var buffer: [UInt8] = []
    }

    private struct Endpoints {
        let source: String
        let destination: String
        let sourcePort: UInt16
        let destinationPort: UInt16

        func line(frame: Int, proto: String) -> JSONLine {
            var line = JSONLine()
            line.add("frame", frame)
            line.add("proto", proto)
            line.add("src", source)
            line.add("dst", destination)
            line.add("sport", Int(sourcePort))
            line.add("dport", Int(destinationPort))
            return line
        }
    }

    mutating func decode(frame: Int, bytes: UnsafeRawBufferPointer, emit: (String) -> Void) {
        // Frames that are not IP, are fragments past the first, or are cut before the transport
        // header carry nothing to decode: skip them silently, as tshark shows them as data.
        guard let (etherType, packet) = try? LinkLayer.networkLayer(linkType: linkType, frame: bytes) else { return }
        let source: String, destination: String, proto: UInt8, transport: UnsafeRawBufferPointer
        switch etherType {
        case EtherType.ipv4:
            guard let ip = try? IPv4Packet(parsing: packet), ip.fragmentOffset == 0 else { return }
            (source, destination, proto, transport) = (ip.source.description, ip.destination.description, ip.proto, ip.payload)
        case EtherType.ipv6:
            guard let ip = try? IPv6Packet(parsing: packet) else { return }
            (source, destination, proto, transport) = (ip.source.description, ip.destination.description, ip.proto, ip.payload)
        default:
            return
        }
        if proto == IPProtocol.udp, let udp = try? UDPDatagram(parsing: transport) {
            let endpoints = Endpoints(source: source, destination: destination, sourcePort: udp.sourcePort, destinationPort: udp.destinationPort)
            decodeUDP(frame: frame, endpoints: endpoints, payload: udp.payload, emit: emit)
        } else if proto == IPProtocol.tcp, let tcp = try? TCPSegment(parsing: transport) {
            let endpoints = Endpoints(source: source, destination: destination, sourcePort: tcp.sourcePort, destinationPort: tcp.destinationPort)
            decodeTCP(frame: frame, endpoints: endpoints, segment: tcp, emit: emit)
        }
    }

    private mutating func decodeUDP(frame: Int, endpoints: Endpoints, payload: UnsafeRawBufferPointer, emit: (String) -> Void) {
        let ports = (endpoints.sourcePort, endpoints.destinationPort)
        if Self.dhcpPorts.contains(ports.0) || Self.dhcpPorts.contains(ports.1) {
            var line = endpoints.line(frame: frame, proto: "dhcp")
            decodeDHCP(payload, into: &line)
            emit(line.finished)
        } else if Self.dnsPorts.contains(ports.0) || Self.dnsPorts.contains(ports.1) {
            var line = endpoints.line(frame: frame, proto: "dns")
            decodeDNS(payload, into: &line)
            emit(line.finished)
        } else if ports.0 == Self.tftpPort || ports.1 == Self.tftpPort || isTFTPTransfer(endpoints) {
            if ports.1 == Self.tftpPort { tftpClients.insert("\(endpoints.source):\(ports.0)") }
            var line = endpoints.line(frame: frame, proto: "tftp")
            decodeTFTP(payload, into: &line)
            emit(line.finished)
        }
    }

    private func isTFTPTransfer(_ endpoints: Endpoints) -> Bool {
        guard !tftpClients.isEmpty else { return false }
        return tftpClients.contains("\(endpoints.source):\(endpoints.sourcePort)")
            || tftpClients.contains("\(endpoints.destination):\(endpoints.destinationPort)")
    }

    private mutating func decodeTCP(frame: Int, endpoints: Endpoints, segment: TCPSegment, emit: (String) -> Void) {
        let key = StreamKey(source: endpoints.source, destination: endpoints.destination,
                            sourcePort: endpoints.sourcePort, destinationPort: endpoints.destinationPort)
        let isDNS = Self.dnsPorts.contains(endpoints.sourcePort) || Self.dnsPorts.contains(endpoints.destinationPort)
        var payload = segment.payload
        if var stream = streams[key] {
            // Drop bytes already seen (retransmissions); a gap ends reassembly of that stream.
            let behind = Int(Int32(bitPattern: stream.nextSequence &- segment.sequenceNumber))
            if behind >= payload.count { return }
            if behind > 0 {
                payload = UnsafeRawBufferPointer(rebasing: payload[behind...])
            } else if behind < 0 {
                stream.buffer.removeAll()
            }
            stream.nextSequence = segment.sequenceNumber &+ UInt32(truncatingIfNeeded: segment.payload.count)
            stream.buffer.append(contentsOf: payload)
            streams[key] = stream
        } else {
            if segment.flags & TCPSegment.syn != 0 {
                streams[key] = Stream(nextSequence: segment.sequenceNumber &+ 1)
                return
            }
            guard !payload.isEmpty else { return }
            guard isDNS || startsHTTPRequest(payload) else { return }
            streams[key] = Stream(nextSequence: segment.sequenceNumber &+ UInt32(truncatingIfNeeded: payload.count), buffer: Array(payload))
        }
        if segment.flags & (TCPSegment.fin | TCPSegment.rst) != 0 {
            defer { streams[key] = nil }
            drain(key: key, isDNS: isDNS, frame: frame, endpoints: endpoints, final: true, emit: emit)
        } else {
            drain(key: key, isDNS: isDNS, frame: frame, endpoints: endpoints, final: false, emit: emit)
        }
    }

    /// Emits every complete message the stream buffer holds and keeps the rest.
    private mutating func drain(key: StreamKey, isDNS: Bool, frame: Int, endpoints: Endpoints, final: Bool, emit: (String) -> Void) {
        guard var stream = streams[key] else { return }
        var consumed = 0
        stream.buffer.withUnsafeBytes { buffer in
            while consumed < buffer.count {
                let rest = UnsafeRawBufferPointer(rebasing: buffer[consumed...])
                if isDNS {
                    // RFC 1035 §4.2.2: each message is preceded by a two-byte length.
                    guard rest.count >= 2 else { break }
                    let length = Int(rest.uint16(at: 0))
                    guard rest.count >= 2 + length else {
                        if final || rest.count > Self.streamLimit {
                            var line = endpoints.line(frame: frame, proto: "dns")
                            decodeDNS(UnsafeRawBufferPointer(rebasing: rest[2...]), into: &line)
                            emit(line.finished)
                            consumed = buffer.count
                        }
                        break
                    }
                    var line = endpoints.line(frame: frame, proto: "dns")
                    decodeDNS(UnsafeRawBufferPointer(rebasing: rest[2..<2 + length]), into: &line)
                    emit(line.finished)
                    consumed += 2 + length
                } else {
                    guard startsHTTPRequest(rest) else {
                        // A request body or a response: nothing more to decode here.
                        consumed = buffer.count
                        break
                    }
                    let headEnd = endOfHead(rest)
                    guard headEnd != nil || final || rest.count > Self.streamLimit else { break }
                    let head = UnsafeRawBufferPointer(rebasing: rest[0..<(headEnd ?? rest.count)])
                    var line = endpoints.line(frame: frame, proto: "http")
                    decodeHTTPRequest(head, into: &line)
                    emit(line.finished)
                    consumed += headEnd ?? rest.count
                }
            }
        }
        stream.buffer.removeFirst(consumed)
        streams[key] = stream
    }

    /// True when the bytes begin like a request line: an upper-case method token and a space.
    private func startsHTTPRequest(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i < bytes.count, i < 16 {
            let b = bytes[i]
            if b == UInt8(ascii: " ") { return i >= 3 }
            guard b >= UInt8(ascii: "A"), b <= UInt8(ascii: "Z") else { return false }
            i += 1
        }
        return false
    }

    /// Offset just past the blank line ending a request head, if the bytes hold one.
    private func endOfHead(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 0x0D && bytes[i + 1] == 0x0A && bytes[i + 2] == 0x0D && bytes[i + 3] == 0x0A {
            return i + 4
        }
        return nil
    }
}
