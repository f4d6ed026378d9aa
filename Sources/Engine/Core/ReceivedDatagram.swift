/// A datagram as the kernel delivered it, parsed in place: `payload` points into the ring's
/// receive buffer and is valid only during the handler call. The buffer goes back to the ring
/// after the call, so a reply must be built before returning.
public struct ReceivedDatagram {
    public let socket: SocketID
    public let payload: UnsafeRawBufferPointer
    public let source: IPv4Endpoint
    /// The packet's destination address (IP_PKTINFO `ipi_addr`): 255.255.255.255 for a
    /// broadcast, the rack's address for a unicast.
    public let destinationAddress: UInt32
    /// The local address a reply should come from (IP_PKTINFO `ipi_spec_dst`).
    public let localAddress: UInt32
    /// The interface it arrived on (IP_PKTINFO `ipi_ifindex`), 0 if unknown.
    public let interfaceIndex: Int32
    /// The datagram was longer than the receive buffer and was cut.
    public let truncated: Bool

    public init(socket: SocketID, payload: UnsafeRawBufferPointer, source: IPv4Endpoint, destinationAddress: UInt32,
                localAddress: UInt32, interfaceIndex: Int32, truncated: Bool) {
        self.socket = socket
        self.payload = payload
        self.source = source
        self.destinationAddress = destinationAddress
        self.localAddress = localAddress
        self.interfaceIndex = interfaceIndex
        self.truncated = truncated
    }
}
