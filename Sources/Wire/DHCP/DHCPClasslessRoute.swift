/// One route of option 121 (RFC 3442): destination prefix and router.
public struct DHCPClasslessRoute: Equatable, Sendable, CustomStringConvertible {
    public var destination: IPv4Address
    public var prefixLength: UInt8
    public var router: IPv4Address

    public init(destination: IPv4Address, prefixLength: UInt8, router: IPv4Address) {
        self.destination = destination
        self.prefixLength = prefixLength
        self.router = router
    }

    public var description: String { "\(destination)/\(prefixLength) via \(router)" }

    /// RFC 3442 §3: width, then only the significant octets of the destination, then the router.
    public static func parseList(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> [DHCPClasslessRoute] {
        var reader = WireReader(bytes)
        var routes: [DHCPClasslessRoute] = []
        while !reader.isAtEnd {
            let width = try reader.readUInt8("dhcp.option121.width")
            guard width <= 32 else { throw WireError(.invalidValue, "dhcp.option121.width", at: reader.offset - 1) }
            let significant = (Int(width) + 7) / 8
            let octets = try reader.readBytes(significant, "dhcp.option121.destination")
            var value: UInt32 = 0
            for i in 0..<4 { value = value << 8 | UInt32(i < significant ? octets[i] : 0) }
            let router = try reader.readIPv4("dhcp.option121.router")
            routes.append(DHCPClasslessRoute(destination: IPv4Address(value), prefixLength: width, router: router))
        }
        return routes
    }

    /// Writes this route in the compact encoding.
    public func write(to writer: inout WireWriter) throws(WireError) {
        try writer.writeUInt8(prefixLength, "dhcp.option121.width")
        let significant = (Int(prefixLength) + 7) / 8
        for i in 0..<significant {
            try writer.writeUInt8(UInt8(truncatingIfNeeded: destination.value >> UInt32(24 - 8 * i)), "dhcp.option121.destination")
        }
        try writer.writeIPv4(router, "dhcp.option121.router")
    }
}
