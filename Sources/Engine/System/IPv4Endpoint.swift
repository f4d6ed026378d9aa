import Glibc

/// An IPv4 address and UDP/TCP port. The address is the 32-bit value in host order
/// (198.18.0.1 is 0xC612_0001), the same convention as `Wire.IPv4Address`.
public struct IPv4Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: UInt32
    public var port: UInt16

    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// "198.18.0.1" and a port; nil if the text is not a dotted quad.
    public init?(_ text: String, port: UInt16) {
        var parsed = in_addr()
        guard inet_pton(AF_INET, text, &parsed) == 1 else { return nil }
        address = UInt32(bigEndian: parsed.s_addr)
        self.port = port
    }

    public static func any(port: UInt16) -> IPv4Endpoint { IPv4Endpoint(address: 0, port: port) }
    public static let limitedBroadcast: UInt32 = 0xFFFF_FFFF

    public var description: String {
        "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF):\(port)"
    }

    @inline(__always)
    var sockaddr: sockaddr_in {
        var s = sockaddr_in()
        s.sin_family = sa_family_t(AF_INET)
        s.sin_port = port.bigEndian
        s.sin_addr.s_addr = address.bigEndian
        return s
    }

    @inline(__always)
    init(_ s: sockaddr_in) {
        address = UInt32(bigEndian: s.sin_addr.s_addr)
        port = UInt16(bigEndian: s.sin_port)
    }
}
