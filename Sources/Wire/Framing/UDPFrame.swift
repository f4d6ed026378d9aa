/// Builds a whole Ethernet + IPv4 + UDP frame around a payload: what an `AF_PACKET` socket sends
/// to a DHCP client that has no address yet (RFC 2131 §4.1, unicast to chaddr at yiaddr).
public enum UDPFrame {
    public static let overhead = EthernetFrame.headerLength + 20 + UDPDatagram.headerLength

    /// Writes the frame; returns its length. The UDP checksum covers the pseudo-header.
    public static func write(
        into buffer: UnsafeMutableRawBufferPointer,
        sourceMAC: MACAddress, destinationMAC: MACAddress,
        source: IPv4Address, destination: IPv4Address,
        sourcePort: UInt16, destinationPort: UInt16,
        payload: UnsafeRawBufferPointer, identification: UInt16 = 0, ttl: UInt8 = 64
    ) throws(WireError) -> Int {
        var writer = WireWriter(buffer)
        try destinationMAC.write(to: &writer, "ethernet.destination")
        try sourceMAC.write(to: &writer, "ethernet.source")
        try writer.writeUInt16(EtherType.ipv4, "ethernet.type")
        try IPv4Packet.writeHeader(into: &writer, source: source, destination: destination, proto: IPProtocol.udp,
                                   payloadLength: UDPDatagram.headerLength + payload.count,
                                   identification: identification, ttl: ttl, dontFragment: false)
        let udpStart = writer.count
        try UDPDatagram.writeHeader(into: &writer, sourcePort: sourcePort, destinationPort: destinationPort, payloadLength: payload.count)
        try writer.writeBytes(payload, "udp.payload")
        let segment = UnsafeRawBufferPointer(rebasing: writer.buffer[udpStart..<writer.count])
        writer.patchUInt16(InternetChecksum.transport(source: source, destination: destination, protocol: IPProtocol.udp, segment: segment), at: udpStart + 6)
        return writer.count
    }
}
