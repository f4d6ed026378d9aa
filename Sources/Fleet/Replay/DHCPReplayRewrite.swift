import Wire

/// Rewrites a captured DHCP request so a replay is a new client that collides with neither the
/// original nor other replays, and so its conversation holds together against a new server.
public struct DHCPReplayRewrite: Sendable {
    /// The captured client's MAC and the one the replay uses.
    public var originalMAC: MACAddress
    public var mac: MACAddress
    public var xid: UInt32
    /// giaddr: the replay relays every request (unicast to the server's port 67).
    public var relayAddress: IPv4Address
    /// The server identifier the replayed server gave this client (option 54 of the REQUEST).
    public var serverIdentifier: IPv4Address?
    /// The address offered or leased to the replayed client (option 50, and ciaddr when the
    /// captured request had one).
    public var address: IPv4Address?

    public init(originalMAC: MACAddress, mac: MACAddress, xid: UInt32, relayAddress: IPv4Address,
                serverIdentifier: IPv4Address? = nil, address: IPv4Address? = nil) {
        self.originalMAC = originalMAC
        self.mac = mac
        self.xid = xid
        self.relayAddress = relayAddress
        self.serverIdentifier = serverIdentifier
        self.address = address
    }

    /// Writes the rewritten message: the same header and options in the same order, but
    /// - xid and chaddr replaced; giaddr set to the replay's relay address whatever the capture
    ///   had, since that is where the server's replies must come (hops + 1 for a client's
    ///   own broadcast, kept for a request that was already relayed);
    /// - option 61 replaced when it is the captured MAC (type 1 + MAC), the usual form;
    /// - options 50 and 54 and a non-zero ciaddr rewritten to what this server said — or left
    ///   out when it has said nothing yet (a captured REQUEST for another server's offer);
    /// - option 82 left out: the replay is the relay, and adds none.
    public func write(_ message: DHCPMessage, into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        var out = DHCPMessageWriter(into: buffer)
        var chaddr = InlineArray<6, UInt8>(repeating: 0)
        for i in 0..<6 { chaddr[i] = mac.octet(i) }
        let relayed = !message.giaddr.isUnspecified
        let ciaddr = message.ciaddr.isUnspecified ? IPv4Address.any : (address ?? .any)
        try withUnsafeBytes(of: chaddr) { (hardware) throws(WireError) in
            try out.writeHeader(op: 1, htype: 1, hlen: 6, hops: relayed ? message.hops : message.hops &+ 1, xid: xid,
                                secs: message.secs, flags: message.flags, ciaddr: ciaddr,
                                giaddr: relayAddress, chaddr: hardware,
                                sname: message.sname, file: message.file)
        }
        var written = InlineArray<4, UInt64>(repeating: 0)
        for option in message.options {
            let word = Int(option.code >> 6)
            let bit: UInt64 = 1 << UInt64(option.code & 63)
            if written[word] & bit != 0 { continue }
            written[word] |= bit
            switch option.code {
            case DHCPOptionCode.optionOverload, DHCPOptionCode.relayAgentInformation:
                continue
            case DHCPOptionCode.requestedIPAddress:
                if let address { try out.writeOption(option.code, address: address) }
            case DHCPOptionCode.serverIdentifier:
                if let serverIdentifier { try out.writeOption(option.code, address: serverIdentifier) }
            case DHCPOptionCode.clientIdentifier:
                try message.withOption(option.code) { (value) throws(WireError) in
                    if value.count == 7, value[0] == 1, MACAddress(bytes: value, at: 1) == originalMAC {
                        var id = InlineArray<7, UInt8>(repeating: 1)
                        for i in 0..<6 { id[i + 1] = mac.octet(i) }
                        try withUnsafeBytes(of: id) { (bytes) throws(WireError) in try out.writeOption(option.code, bytes) }
                    } else {
                        try out.writeOption(option.code, value)
                    }
                }
            default:
                try message.withOption(option.code) { (value) throws(WireError) in try out.writeOption(option.code, value) }
            }
        }
        return try out.finish()
    }

    /// `text` with the captured MAC replaced by the replay's, in the spellings boot paths use
    /// ("01-52-54-00-18-00-01" in pxelinux.cfg names, "52:54:00:18:00:01" in iPXE URLs).
    public func remapMAC(in text: String) -> String {
        let old = originalMAC.description
        let new = mac.description
        var result = text.replacingAll(old, with: new)
        result = result.replacingAll(old.replacingAll(":", with: "-"), with: new.replacingAll(":", with: "-"))
        return result
    }
}

extension String {
    /// Every occurrence of `target` replaced, compared without regard to ASCII case.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        let haystack = Array(utf8)
        let needle = Array(target.lowercased().utf8)
        var out: [UInt8] = []
        out.reserveCapacity(haystack.count)
        var i = 0
        while i < haystack.count {
            if i + needle.count <= haystack.count,
               (0..<needle.count).allSatisfy({ ASCII.lowercased(haystack[i + $0]) == needle[$0] }) {
                out.append(contentsOf: replacement.utf8)
                i += needle.count
            } else {
                out.append(haystack[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
