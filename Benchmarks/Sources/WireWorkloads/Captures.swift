import PacketCapture
#if canImport(Glibc)
import Glibc
#endif
import Wire

/// One transport payload pulled out of a capture.
public struct CapturedPayload {
    public let file: String
    public let frame: Int
    public let isUDP: Bool
    public let sourcePort: UInt16
    public let destinationPort: UInt16
    public let bytes: [UInt8]
}

public struct CaptureError: Error, CustomStringConvertible {
    public let description: String
}

/// Reads capture files through PacketCapture (libpcap) and decodes them down to UDP/TCP payloads with Wire's
/// framing codecs (the same path as Tests/WireTests/Support/Corpus.swift).
public enum Captures {
    /// `$RACKPLANE_CORPUS`, else `<repo>/../shared/corpus` found from this file's path.
    public static let root: String = {
        if let value = getenv("RACKPLANE_CORPUS"), value.pointee != 0 { return String(cString: value) }
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        // …/<repo>/Benchmarks/Sources/WireWorkloads/Captures.swift → …/<repo>
        parts.removeLast(4)
        return parts.joined(separator: "/") + "/../shared/corpus"
    }()

    /// Every UDP or TCP payload over IPv4 or IPv6 in `file` (a path under the corpus root).
    public static func payloads(_ file: String) throws -> [CapturedPayload] {
        let capture: CaptureFile
        do {
            capture = try CaptureFile(path: root + "/" + file)
        } catch {
            throw CaptureError(description: "\(file): \(error)")
        }
        var out: [CapturedPayload] = []
        try capture.forEachPacket { frame, bytes in
            guard let (type, packet) = try? LinkLayer.networkLayer(linkType: capture.linkType, frame: bytes) else { return }
            var transport: UnsafeRawBufferPointer?
            var proto: UInt8 = 0
            if type == EtherType.ipv4, let ip = try? IPv4Packet(parsing: packet) { transport = ip.payload; proto = ip.proto }
            if type == EtherType.ipv6, let ip = try? IPv6Packet(parsing: packet) { transport = ip.payload; proto = ip.proto }
            guard let transport else { return }
            if proto == IPProtocol.udp, let udp = try? UDPDatagram(parsing: transport) {
                out.append(CapturedPayload(
                    file: file, frame: frame, isUDP: true, sourcePort: udp.sourcePort,
                    destinationPort: udp.destinationPort, bytes: Array(udp.payload)))
            } else if proto == IPProtocol.tcp, let tcp = try? TCPSegment(parsing: transport), !tcp.payload.isEmpty {
                out.append(CapturedPayload(
                    file: file, frame: frame, isUDP: false, sourcePort: tcp.sourcePort,
                    destinationPort: tcp.destinationPort, bytes: Array(tcp.payload)))
            }
        }
        return out
    }
}

/// Payloads copied once into one long-lived arena, each at a 16-byte boundary as a receive
/// buffer would be, so the timed loop touches only the payload bytes and a flat array of views.
public struct PayloadSet: @unchecked Sendable {
    public let name: String
    public let payloads: [UnsafeRawBufferPointer]
    public let totalBytes: Int

    public init(name: String, _ sources: [[UInt8]]) {
        let total = sources.reduce(0) { $0 + ($1.count + 15) & ~15 }
        // Never freed: the sets live as long as the benchmark process.
        let arena = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 16), alignment: 16)
        var at = 0
        var views: [UnsafeRawBufferPointer] = []
        views.reserveCapacity(sources.count)
        for source in sources {
            let slot = UnsafeMutableRawBufferPointer(rebasing: arena[at..<at + source.count])
            source.withUnsafeBytes { slot.copyMemory(from: $0) }
            views.append(UnsafeRawBufferPointer(slot))
            at += (source.count + 15) & ~15
        }
        self.name = name
        self.payloads = views
        self.totalBytes = sources.reduce(0) { $0 + $1.count }
    }

    public var count: Int { payloads.count }
    public var meanSize: Int { payloads.isEmpty ? 0 : totalBytes / payloads.count }
}
