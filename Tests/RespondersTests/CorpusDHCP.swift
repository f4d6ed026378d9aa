import Glibc
import Wire

/// DHCP requests from the shared corpus's real boots, read with a minimal classic-pcap reader
/// (these two files are classic pcap with Ethernet framing) so this test target needs no libpcap.
enum CorpusDHCP {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/../shared/corpus"
    }()

    static func requests(_ file: String) throws -> [[UInt8]] {
        guard let handle = fopen(root + "/" + file, "rb") else { throw WireError(.truncated, "corpus.open", at: 0) }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&chunk, 1, chunk.count, handle)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        var requests: [[UInt8]] = []
        bytes.withUnsafeBytes { raw in
            var offset = 24
            while offset + 16 <= raw.count {
                let captured = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)))
                let frame = UnsafeRawBufferPointer(rebasing: raw[offset + 16..<min(offset + 16 + captured, raw.count)])
                offset += 16 + captured
                guard let ethernet = try? EthernetFrame(parsing: frame), ethernet.etherType == EtherType.ipv4,
                      let ip = try? IPv4Packet(parsing: ethernet.payload), ip.proto == IPProtocol.udp,
                      let udp = try? UDPDatagram(parsing: ip.payload), udp.destinationPort == 67,
                      let m = try? DHCPMessage(parsing: udp.payload), m.op == 1 else { continue }
                requests.append(Array(udp.payload))
            }
        }
        return requests
    }
}

func printable(_ bytes: UnsafeRawBufferPointer) -> String {
    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
}
