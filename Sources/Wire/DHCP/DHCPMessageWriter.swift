/// Writes a DHCPv4 message into a caller's buffer: fixed header, magic cookie, options, End,
/// and padding to the BOOTP minimum. No allocation.
///
/// Order matters to some clients: write the message type (53) and then the server identifier
/// (54) first — `writeMessageType(_:serverIdentifier:)` does both — as ISC and Kea do, because
/// some PXE ROMs look for 54 right after 53.
public struct DHCPMessageWriter {
    public var writer: WireWriter

    /// - Parameter maximumMessageSize: the client's option 57. RFC 2132 §9.10 does not say whether
    ///   it counts the IP and UDP headers; we assume it does (the smaller reading), and never go
    ///   below 576, the size every host must accept (RFC 2131 §2).
    public init(into buffer: UnsafeMutableRawBufferPointer, maximumMessageSize: UInt16? = nil) {
        var limit = buffer.count
        if let mms = maximumMessageSize {
            limit = min(limit, max(Int(mms), 576) - 28)
        }
        writer = WireWriter(buffer, limit: limit)
    }

    /// Bytes left for options, keeping one for End.
    public var remainingForOptions: Int { writer.remaining - 1 }

    /// The fixed 236-byte header and the magic cookie. `sname` and `file` are written NUL-padded
    /// and must fit their fields (64 and 128 bytes, a terminating NUL not required).
    public mutating func writeHeader(
        op: UInt8, htype: UInt8 = 1, hlen: UInt8 = 6, hops: UInt8 = 0, xid: UInt32, secs: UInt16 = 0,
        flags: UInt16 = 0, ciaddr: IPv4Address = .any, yiaddr: IPv4Address = .any,
        siaddr: IPv4Address = .any, giaddr: IPv4Address = .any, chaddr: UnsafeRawBufferPointer,
        sname: UnsafeRawBufferPointer? = nil, file: UnsafeRawBufferPointer? = nil
    ) throws(WireError) {
        guard chaddr.count <= DHCPLayout.chaddrLength else { throw WireError(.invalidLength, "dhcp.chaddr", at: DHCPLayout.chaddr) }
        try writer.writeUInt8(op, "dhcp.op")
        try writer.writeUInt8(htype, "dhcp.htype")
        try writer.writeUInt8(hlen, "dhcp.hlen")
        try writer.writeUInt8(hops, "dhcp.hops")
        try writer.writeUInt32(xid, "dhcp.xid")
        try writer.writeUInt16(secs, "dhcp.secs")
        try writer.writeUInt16(flags, "dhcp.flags")
        try writer.writeIPv4(ciaddr, "dhcp.ciaddr")
        try writer.writeIPv4(yiaddr, "dhcp.yiaddr")
        try writer.writeIPv4(siaddr, "dhcp.siaddr")
        try writer.writeIPv4(giaddr, "dhcp.giaddr")
        try writer.writeBytes(chaddr, "dhcp.chaddr")
        try writer.writeZeros(DHCPLayout.chaddrLength - chaddr.count, "dhcp.chaddr")
        try writeField(sname, length: DHCPLayout.snameLength, "dhcp.sname")
        try writeField(file, length: DHCPLayout.fileLength, "dhcp.file")
        try writer.writeUInt32(DHCPLayout.magicCookieValue, "dhcp.magic_cookie")
    }

    private mutating func writeField(_ value: UnsafeRawBufferPointer?, length: Int, _ field: StaticString) throws(WireError) {
        let count = value?.count ?? 0
        guard count <= length else { throw WireError(.invalidLength, field, at: writer.count) }
        if let value { try writer.writeBytes(value, field) }
        try writer.writeZeros(length - count, field)
    }

    /// Option 53, then option 54 when given.
    public mutating func writeMessageType(_ type: DHCPMessageType, serverIdentifier: IPv4Address?) throws(WireError) {
        try writeOption(DHCPOptionCode.messageType, uint8: type.rawValue)
        if let serverIdentifier { try writeOption(DHCPOptionCode.serverIdentifier, address: serverIdentifier) }
    }

    /// Writes an option; a value over 255 bytes is split into consecutive instances (RFC 3396).
    public mutating func writeOption(_ code: UInt8, _ value: UnsafeRawBufferPointer) throws(WireError) {
        precondition(code != DHCPOptionCode.pad && code != DHCPOptionCode.end)
        let instances = max(1, (value.count + 254) / 255)
        guard value.count + 2 * instances <= remainingForOptions else {
            throw WireError(.noSpace, "dhcp.option", at: writer.count)
        }
        var offset = 0
        repeat {
            let length = min(255, value.count - offset)
            try writer.writeUInt8(code, "dhcp.option.code")
            try writer.writeUInt8(UInt8(length), "dhcp.option.length")
            try writer.writeBytes(UnsafeRawBufferPointer(rebasing: value[offset..<offset + length]), "dhcp.option.value")
            offset += length
        } while offset < value.count
    }

    public mutating func writeOption(_ code: UInt8, uint8 value: UInt8) throws(WireError) {
        try withUnsafeBytes(of: value) { (bytes) throws(WireError) in try writeOption(code, bytes) }
    }

    public mutating func writeOption(_ code: UInt8, uint16 value: UInt16) throws(WireError) {
        try withUnsafeBytes(of: value.bigEndian) { (bytes) throws(WireError) in try writeOption(code, bytes) }
    }

    public mutating func writeOption(_ code: UInt8, uint32 value: UInt32) throws(WireError) {
        try withUnsafeBytes(of: value.bigEndian) { (bytes) throws(WireError) in try writeOption(code, bytes) }
    }

    public mutating func writeOption(_ code: UInt8, address: IPv4Address) throws(WireError) {
        try writeOption(code, uint32: address.value)
    }

    /// An option holding a list of addresses (routers, DNS servers).
    public mutating func writeOption(_ code: UInt8, addresses: some Collection<IPv4Address>) throws(WireError) {
        let length = addresses.count * 4
        guard length <= 255, length + 2 <= remainingForOptions else { throw WireError(.noSpace, "dhcp.option", at: writer.count) }
        try writer.writeUInt8(code, "dhcp.option.code")
        try writer.writeUInt8(UInt8(length), "dhcp.option.length")
        for address in addresses { try writer.writeIPv4(address, "dhcp.option.value") }
    }

    public mutating func writeOption(_ code: UInt8, string: StaticString) throws(WireError) {
        try writeOption(code, UnsafeRawBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount))
    }

    /// End (255), then zero padding up to the 300-byte BOOTP minimum. Returns the length.
    public mutating func finish() throws(WireError) -> Int {
        try writer.writeUInt8(DHCPOptionCode.end, "dhcp.option.end")
        if writer.count < DHCPLayout.bootpMinimumLength {
            try writer.writeZeros(DHCPLayout.bootpMinimumLength - writer.count, "dhcp.padding")
        }
        return writer.count
    }
}

extension DHCPMessageWriter {
    /// Re-encodes a parsed message: the same header, every option once in the order of its
    /// first instance with split instances joined (and re-split if still over 255 bytes).
    /// Overloaded `sname`/`file` areas come back as plain zeroed fields, their options moved to
    /// the options field. Used by the round-trip property and by capture replay.
    public static func reencode(_ message: DHCPMessage, into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        var out = DHCPMessageWriter(into: buffer)
        try out.writeHeader(
            op: message.op, htype: message.htype, hlen: message.hlen, hops: message.hops, xid: message.xid,
            secs: message.secs, flags: message.flags, ciaddr: message.ciaddr, yiaddr: message.yiaddr,
            siaddr: message.siaddr, giaddr: message.giaddr,
            chaddr: UnsafeRawBufferPointer(rebasing: message.bytes[DHCPLayout.chaddr..<DHCPLayout.chaddr + 16]),
            sname: message.sname, file: message.file)
        var written = InlineArray<4, UInt64>(repeating: 0)
        for option in message.options {
            let word = Int(option.code >> 6)
            let bit: UInt64 = 1 << UInt64(option.code & 63)
            if written[word] & bit != 0 { continue }
            written[word] |= bit
            if option.code == DHCPOptionCode.optionOverload { continue }
            try message.withOption(option.code) { (value) throws(WireError) in try out.writeOption(option.code, value) }
        }
        return try out.finish()
    }
}
