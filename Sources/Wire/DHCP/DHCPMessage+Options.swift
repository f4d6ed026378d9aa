/// Typed accessors: nil when the option is absent, `WireError` when it is present but its
/// length or value breaks RFC 2132 (or the RFC named). Scalars cost a walk and no allocation;
/// accessors returning `String` or arrays copy and are meant for tools, not the hot path, which
/// reads raw values through `withOption`.
extension DHCPMessage {
    @inlinable
    func fixed<T>(_ code: UInt8, length: Int, _ field: StaticString, _ read: (UnsafeRawBufferPointer) -> T) throws(WireError) -> T? {
        try withOption(code) { (value) throws(WireError) -> T in
            guard value.count == length else { throw WireError(.invalidLength, field, at: DHCPLayout.options) }
            return read(value)
        }
    }

    func addressList(_ code: UInt8, _ field: StaticString) throws(WireError) -> [IPv4Address]? {
        try withOption(code) { (value) throws(WireError) -> [IPv4Address] in
            guard value.count >= 4, value.count % 4 == 0 else { throw WireError(.invalidLength, field, at: DHCPLayout.options) }
            return stride(from: 0, to: value.count, by: 4).map { IPv4Address(bytes: value, at: $0) }
        }
    }

    func text(_ code: UInt8) -> String? {
        withOption(code) { value in printable(value) }
    }

    /// 1: subnet mask.
    public func subnetMask() throws(WireError) -> IPv4Address? {
        try fixed(DHCPOptionCode.subnetMask, length: 4, "dhcp.option1") { IPv4Address(bytes: $0, at: 0) }
    }
    /// 3: routers, in order of preference.
    public func routers() throws(WireError) -> [IPv4Address]? { try addressList(DHCPOptionCode.router, "dhcp.option3") }
    /// 6: DNS servers.
    public func domainNameServers() throws(WireError) -> [IPv4Address]? { try addressList(DHCPOptionCode.domainNameServer, "dhcp.option6") }
    /// 12: host name, as sent (NULs at the end dropped).
    public func hostName() -> String? { text(DHCPOptionCode.hostName) }
    /// 15: domain name.
    public func domainName() -> String? { text(DHCPOptionCode.domainName) }
    /// 26: interface MTU (RFC 2132 §5.1: at least 68).
    public func interfaceMTU() throws(WireError) -> UInt16? {
        try fixed(DHCPOptionCode.interfaceMTU, length: 2, "dhcp.option26") { $0.uint16(at: 0) }
    }
    /// 28: broadcast address.
    public func broadcastAddress() throws(WireError) -> IPv4Address? {
        try fixed(DHCPOptionCode.broadcastAddress, length: 4, "dhcp.option28") { IPv4Address(bytes: $0, at: 0) }
    }
    /// 43: vendor-specific information, raw (sub-options through `DHCPSubOptionIterator`).
    public func vendorSpecific() -> [UInt8]? { withOption(DHCPOptionCode.vendorSpecific) { Array($0) } }
    /// 50: requested IP address.
    public func requestedIPAddress() throws(WireError) -> IPv4Address? {
        try fixed(DHCPOptionCode.requestedIPAddress, length: 4, "dhcp.option50") { IPv4Address(bytes: $0, at: 0) }
    }
    /// 51: lease time in seconds.
    public func leaseTime() throws(WireError) -> UInt32? {
        try fixed(DHCPOptionCode.leaseTime, length: 4, "dhcp.option51") { $0.uint32(at: 0) }
    }
    /// 54: server identifier.
    public func serverIdentifier() throws(WireError) -> IPv4Address? {
        try fixed(DHCPOptionCode.serverIdentifier, length: 4, "dhcp.option54") { IPv4Address(bytes: $0, at: 0) }
    }
    /// 55: parameter request list, the codes in the client's order.
    public func parameterRequestList() -> [UInt8]? { withOption(DHCPOptionCode.parameterRequestList) { Array($0) } }
    /// 56: message (a NAK's or DECLINE's reason).
    public func messageText() -> String? { text(DHCPOptionCode.message) }
    /// 57: maximum DHCP message size the client accepts.
    public func maximumMessageSize() throws(WireError) -> UInt16? {
        try fixed(DHCPOptionCode.maximumMessageSize, length: 2, "dhcp.option57") { $0.uint16(at: 0) }
    }
    /// 58: renewal (T1) time.
    public func renewalTime() throws(WireError) -> UInt32? {
        try fixed(DHCPOptionCode.renewalTime, length: 4, "dhcp.option58") { $0.uint32(at: 0) }
    }
    /// 59: rebinding (T2) time.
    public func rebindingTime() throws(WireError) -> UInt32? {
        try fixed(DHCPOptionCode.rebindingTime, length: 4, "dhcp.option59") { $0.uint32(at: 0) }
    }
    /// 60: vendor class identifier ("PXEClient:Arch:00000:UNDI:002001", "HTTPClient…").
    public func vendorClassIdentifier() -> String? { text(DHCPOptionCode.vendorClassIdentifier) }
    /// Whether option 60 starts with `prefix`; no allocation (the server's PXEClient test).
    public func vendorClassHasPrefix(_ prefix: StaticString) -> Bool {
        let wanted = UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        return withOption(DHCPOptionCode.vendorClassIdentifier) { value in
            value.count >= wanted.count && UnsafeRawBufferPointer(rebasing: value[0..<wanted.count]).elementsEqual(wanted)
        } ?? false
    }
    /// 61: client identifier, raw (type byte first).
    public func clientIdentifier() -> [UInt8]? { withOption(DHCPOptionCode.clientIdentifier) { Array($0) } }
    /// 66: TFTP server name.
    public func tftpServerName() -> String? { text(DHCPOptionCode.tftpServerName) }
    /// 67: boot file name.
    public func bootfileName() -> String? { text(DHCPOptionCode.bootfileName) }
    /// 77: user class, RFC 3004 or bare form.
    public func userClass() -> DHCPUserClass? { withOption(DHCPOptionCode.userClass) { DHCPUserClass($0) } }
    /// Whether option 77 names `name` in either form; no allocation.
    public func userClassContains(_ name: StaticString) -> Bool {
        withOption(DHCPOptionCode.userClass) { DHCPUserClass.contains(name, in: $0) } ?? false
    }
    /// 81: client FQDN (RFC 4702).
    public func clientFQDN() throws(WireError) -> DHCPClientFQDN? {
        try withOption(DHCPOptionCode.clientFQDN) { (value) throws(WireError) in try DHCPClientFQDN(parsing: value) }
    }
    /// 82: relay agent information (RFC 3046), decoded.
    public func relayAgentInformation() throws(WireError) -> DHCPRelayAgentInformation? {
        try withOption(DHCPOptionCode.relayAgentInformation) { (value) throws(WireError) in try DHCPRelayAgentInformation(parsing: value) }
    }
    /// 93: client system architectures (RFC 4578 §2.1), most preferred first.
    public func clientSystemArchitectures() throws(WireError) -> [UInt16]? {
        try withOption(DHCPOptionCode.clientSystemArchitecture) { (value) throws(WireError) -> [UInt16] in
            guard value.count >= 2, value.count % 2 == 0 else { throw WireError(.invalidLength, "dhcp.option93", at: DHCPLayout.options) }
            return stride(from: 0, to: value.count, by: 2).map { value.uint16(at: $0) }
        }
    }
    /// The first architecture of option 93; no allocation (the server's boot-file choice).
    public func clientSystemArchitecture() throws(WireError) -> UInt16? {
        try withOption(DHCPOptionCode.clientSystemArchitecture) { (value) throws(WireError) -> UInt16 in
            guard value.count >= 2, value.count % 2 == 0 else { throw WireError(.invalidLength, "dhcp.option93", at: DHCPLayout.options) }
            return value.uint16(at: 0)
        }
    }
    /// 94: client network interface identifier (RFC 4578 §2.2): type 1 = UNDI, and its version.
    public func clientNetworkInterface() throws(WireError) -> (type: UInt8, major: UInt8, minor: UInt8)? {
        try fixed(DHCPOptionCode.clientNetworkInterface, length: 3, "dhcp.option94") { ($0[0], $0[1], $0[2]) }
    }
    /// 97: client machine identifier (RFC 4578 §2.3): type 0 followed by a 16-byte GUID.
    public func clientMachineIdentifier() throws(WireError) -> (type: UInt8, identifier: [UInt8])? {
        try withOption(DHCPOptionCode.clientMachineIdentifier) { (value) throws(WireError) in
            guard value.count >= 1 else { throw WireError(.invalidLength, "dhcp.option97", at: DHCPLayout.options) }
            if value[0] == 0, value.count != 17 { throw WireError(.invalidLength, "dhcp.option97", at: DHCPLayout.options) }
            return (value[0], Array(value[1...]))
        }
    }
    /// 118: subnet selection (RFC 3011).
    public func subnetSelection() throws(WireError) -> IPv4Address? {
        try fixed(DHCPOptionCode.subnetSelection, length: 4, "dhcp.option118") { IPv4Address(bytes: $0, at: 0) }
    }
    /// 121: classless static routes (RFC 3442).
    public func classlessStaticRoutes() throws(WireError) -> [DHCPClasslessRoute]? {
        try withOption(DHCPOptionCode.classlessStaticRoute) { (value) throws(WireError) in try DHCPClasslessRoute.parseList(value) }
    }
    /// 175: iPXE's encapsulated options, as (code, value) pairs.
    public func ipxeEncapsulatedOptions() throws(WireError) -> [(code: UInt8, value: [UInt8])]? {
        try withOption(DHCPOptionCode.ipxeEncapsulated) { (value) throws(WireError) in
            var iterator = DHCPSubOptionIterator(value)
            var list: [(code: UInt8, value: [UInt8])] = []
            while let sub = try iterator.next() { list.append((sub.code, Array(sub.value))) }
            return list
        }
    }
    /// 209: pxelinux configuration file (RFC 5071).
    public func pxelinuxConfigFile() -> String? { text(DHCPOptionCode.pxelinuxConfigFile) }
    /// 210: pxelinux path prefix (RFC 5071).
    public func pxelinuxPathPrefix() -> String? { text(DHCPOptionCode.pxelinuxPathPrefix) }
}

/// Option text as sent: trailing NULs dropped (some clients count the C terminator), other bytes
/// kept; invalid UTF-8 becomes U+FFFD.
func printable(_ value: UnsafeRawBufferPointer) -> String {
    var end = value.count
    while end > 0, value[end - 1] == 0 { end -= 1 }
    return String(decoding: value[0..<end], as: UTF8.self)
}
