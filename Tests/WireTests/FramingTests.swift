import Testing
@testable import Wire

@Suite struct FramingTests {
    @Test func builtFrameHasValidChecksumsAndParsesBack() throws {
        let payload: [UInt8] = Array("rackplane".utf8)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1514, alignment: 8)
        defer { buffer.deallocate() }
        let length = try payload.withUnsafeBytes { (p) in
            try UDPFrame.write(into: buffer, sourceMAC: MACAddress("02:00:00:00:00:01")!, destinationMAC: MACAddress("52:54:00:00:00:01")!,
                               source: IPv4Address(198, 18, 0, 1), destination: IPv4Address(198, 18, 0, 100),
                               sourcePort: 67, destinationPort: 68, payload: p)
        }
        #expect(length == UDPFrame.overhead + payload.count)
        let frame = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        let ethernet = try EthernetFrame(parsing: frame)
        #expect(ethernet.etherType == EtherType.ipv4)
        #expect(ethernet.destination == MACAddress("52:54:00:00:00:01"))
        let ip = try IPv4Packet(parsing: ethernet.payload)
        // A correct header, checksum included, sums to zero.
        #expect(InternetChecksum.ipv4Header(UnsafeRawBufferPointer(rebasing: ethernet.payload[0..<20])) == 0)
        #expect(ip.source == IPv4Address(198, 18, 0, 1) && ip.proto == IPProtocol.udp)
        let udp = try UDPDatagram(parsing: ip.payload)
        #expect(udp.sourcePort == 67 && udp.destinationPort == 68)
        #expect(Array(udp.payload) == payload)
        // Re-summing with the stored checksum in place folds to zero (or its all-ones twin).
        let verify = InternetChecksum.transport(source: ip.source, destination: ip.destination, protocol: IPProtocol.udp, segment: ip.payload)
        #expect(verify == 0 || verify == 0xFFFF)
    }

    @Test func checksumMatchesRFC1071Example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's complement 220d).
        let words: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        words.withUnsafeBytes { bytes in
            #expect(InternetChecksum.add(bytes) == 0x2DDF0)
            #expect(InternetChecksum.finish(InternetChecksum.add(bytes)) == 0x220D)
        }
        // Odd length: the last byte is the high half of a zero-padded word.
        [UInt8]([0x01]).withUnsafeBytes { #expect(InternetChecksum.add($0) == 0x0100) }
    }

    @Test func truncatedHeadersAreErrors() {
        let short = [UInt8](repeating: 0, count: 13)
        short.withUnsafeBytes { bytes in
            #expect(throws: WireError.self) { _ = try EthernetFrame(parsing: bytes) }
            #expect(throws: WireError.self) { _ = try IPv4Packet(parsing: bytes) }
            #expect(throws: WireError.self) { _ = try UDPDatagram(parsing: UnsafeRawBufferPointer(rebasing: bytes[0..<7])) }
            #expect(throws: WireError.self) { _ = try TCPSegment(parsing: bytes) }
            #expect(throws: WireError.self) { _ = try IPv6Packet(parsing: bytes) }
        }
        // IHL smaller than 5 words.
        var ip = [UInt8](repeating: 0, count: 20)
        ip[0] = 0x44
        _ = ip.withUnsafeBytes { bytes in #expect(throws: WireError.self) { _ = try IPv4Packet(parsing: bytes) } }
    }

    @Test func vlanTagsAreStripped() throws {
        var frame = [UInt8](repeating: 0, count: 12) + [0x81, 0x00, 0x00, 0x2A, 0x08, 0x00]
        frame += [0x45] + [UInt8](repeating: 0, count: 19)
        try frame.withUnsafeBytes { (bytes) in
            let ethernet = try EthernetFrame(parsing: bytes)
            #expect(ethernet.outerVLAN == 42)
            #expect(ethernet.etherType == EtherType.ipv4)
            #expect(ethernet.payload.count == 20)
        }
    }

    @Test func addressText() {
        #expect(IPv4Address("198.18.0.1") == IPv4Address(198, 18, 0, 1))
        #expect(IPv4Address("198.18.0.256") == nil)
        #expect(IPv4Address("198.18.0") == nil)
        #expect(IPv4Address("198.18.00.1") == nil)
        #expect(IPv4Address(198, 18, 0, 1).description == "198.18.0.1")
        #expect(MACAddress("52:54:00:AB:cd:01")?.description == "52:54:00:ab:cd:01")
        #expect(MACAddress("52:54:00:ab:cd") == nil)
        #expect(MACAddress("52-54-00-AB-CD-0f")?.value == 0x5254_00AB_CD0F)
        for bad in ["", "52:54:00:ab:cd:", "52:54:00:ab:cd:0", "52:54:00:ab:cd:012", "5:54:00:ab:cd:01", "52:54:00:ab:cd:0g",
                    "52:54:00:ab:cd:01:", ":52:54:00:ab:cd", "52::54:00:ab:cd", "+f:54:00:ab:cd:01", "52:54:00:ab:cd:01 "] {
            #expect(MACAddress(bad) == nil, "\(bad)")
        }
        #expect(IPv6Address("2001:db8::1")?.description == "2001:db8::1")
        #expect(IPv6Address("fe80:0:0:0:1:0:0:1")?.description == "fe80::1:0:0:1")
        #expect(IPv6Address("::")?.description == "::")
        #expect(IPv6Address("1::2::3") == nil)
    }
}
