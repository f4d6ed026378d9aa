import Wire

/// What a DHCP server gave a machine: the ACK's fields a PXE ROM acts on.
public struct DHCPClientLease: Sendable, Equatable {
    public var address: IPv4Address
    public var serverIdentifier: IPv4Address
    /// siaddr: the TFTP server (next-server), or 0.
    public var nextServer: IPv4Address
    /// Option 67, else the `file` field; empty when the server named none.
    public var bootFile: String
    public var hostName: String?
    public var domainName: String?
    public var dnsServers: [IPv4Address]
    public var leaseSeconds: UInt32?
}

/// One client's DORA (RFC 2131 §3.1) as a value-type state machine: it writes the DISCOVER and
/// REQUEST into a caller's buffer and reads the server's replies; the caller owns the socket,
/// the timers and retransmission (it simply writes the current message again).
public struct DHCPClientExchange: Sendable {
    public enum State: Sendable, Equatable {
        case selecting
        case requesting
        case bound
        case refused
    }

    /// What a reply meant.
    public enum Event: Sendable, Equatable {
        /// An OFFER was taken: send the REQUEST now.
        case offered
        /// The ACK: the exchange is over.
        case bound(DHCPClientLease)
        /// A NAK, with the server's message (option 56) if any.
        case refused(String)
        /// Not for this exchange or not expected now (a second OFFER, a duplicate ACK).
        case ignored
    }

    public let mac: MACAddress
    public let xid: UInt32
    public let firmware: Firmware
    public let hostName: String?
    /// giaddr: the relay agent's address when the machine is simulated behind a relay.
    public let relayAddress: IPv4Address?
    /// Ask for broadcast replies (flags bit): a client without an address on a real link.
    public let broadcastReplies: Bool
    public private(set) var state = State.selecting
    public private(set) var offer: DHCPClientLease?
    /// Seconds since the exchange started, written in `secs` (RFC 2131: "seconds elapsed
    /// since client began address acquisition or renewal process").
    public var secondsElapsed: UInt16 = 0

    public init(mac: MACAddress, xid: UInt32, firmware: Firmware, hostName: String?, relayAddress: IPv4Address?, broadcastReplies: Bool = false) {
        self.mac = mac
        self.xid = xid
        self.firmware = firmware
        self.hostName = hostName
        self.relayAddress = relayAddress
        self.broadcastReplies = broadcastReplies
    }

    /// Writes the message the current state sends: a DISCOVER while selecting, the REQUEST
    /// for the offer while requesting. Returns its length.
    public func writeMessage(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var out = DHCPMessageWriter(into: buffer)
        var chaddr = InlineArray<6, UInt8>(repeating: 0)
        for i in 0..<6 { chaddr[i] = mac.octet(i) }
        let requesting = state == .requesting
        try withUnsafeBytes(of: chaddr) { hardware in
            try out.writeHeader(op: 1, hops: relayAddress == nil ? 0 : 1, xid: xid, secs: secondsElapsed,
                                flags: broadcastReplies ? DHCPLayout.broadcastFlag : 0,
                                giaddr: relayAddress ?? .any, chaddr: hardware)
        }
        try out.writeMessageType(requesting ? .request : .discover, serverIdentifier: nil)
        if requesting, let offer {
            // RFC 2131 §4.3.2: a REQUEST in SELECTING state "MUST contain the 'server identifier'
            // ... 'requested IP address' MUST be filled in with the yiaddr value from the
            // chosen DHCPOFFER".
            try out.writeOption(DHCPOptionCode.serverIdentifier, address: offer.serverIdentifier)
            try out.writeOption(DHCPOptionCode.requestedIPAddress, address: offer.address)
        }
        try out.writeOption(DHCPOptionCode.maximumMessageSize, uint16: 1472)
        try out.writeOption(DHCPOptionCode.clientSystemArchitecture, uint16: firmware.architecture)
        let (type, major, minor) = firmware.networkInterface
        try withUnsafeBytes(of: (type, major, minor)) { value in
            try out.writeOption(DHCPOptionCode.clientNetworkInterface, UnsafeRawBufferPointer(rebasing: value[0..<3]))
        }
        try out.writeOption(DHCPOptionCode.vendorClassIdentifier, string: firmware.vendorClass)
        if firmware == .ipxe {
            try out.writeOption(DHCPOptionCode.userClass, string: "iPXE")
            // iPXE's feature indicators (175): HTTP (19) and DNS (23) supported, as iPXE sends.
            let features: [UInt8] = [19, 1, 1, 23, 1, 1]
            try features.withUnsafeBytes { value in try out.writeOption(DHCPOptionCode.ipxeEncapsulated, value) }
        }
        let parameters = firmware.parameterRequestList
        try parameters.withUnsafeBytes { value in try out.writeOption(DHCPOptionCode.parameterRequestList, value) }
        var clientID = InlineArray<7, UInt8>(repeating: 1)
        for i in 0..<6 { clientID[i + 1] = mac.octet(i) }
        try withUnsafeBytes(of: clientID) { value in try out.writeOption(DHCPOptionCode.clientIdentifier, value) }
        // Option 97 (RFC 4578 §2.3): type 0 and a 16-byte UUID, here derived from the MAC.
        var uuid = InlineArray<17, UInt8>(repeating: 0)
        for i in 0..<6 { uuid[11 + i] = mac.octet(i) }
        uuid[7] = 0x40
        try withUnsafeBytes(of: uuid) { value in try out.writeOption(DHCPOptionCode.clientMachineIdentifier, value) }
        if let hostName, !hostName.isEmpty {
            try Array(hostName.utf8).withUnsafeBytes { value in try out.writeOption(DHCPOptionCode.hostName, value) }
        }
        return try out.finish()
    }

    /// Back to SELECTING after a NAK. RFC 2131 §3.1: "If the client receives a DHCPNAK message,
    /// the client restarts the configuration process."
    public mutating func restart() {
        state = .selecting
        offer = nil
    }

    /// Reads a server's reply. Messages for another client (xid or chaddr) are `.ignored`.
    public mutating func receive(_ message: DHCPMessage) -> Event {
        guard message.op == 2, message.xid == xid, message.clientMAC == mac else { return .ignored }
        switch (state, message.messageType) {
        case (.selecting, .offer?):
            guard let lease = Self.lease(from: message) else { return .ignored }
            offer = lease
            state = .requesting
            return .offered
        case (.requesting, .ack?):
            guard var lease = Self.lease(from: message) else { return .ignored }
            // The offer's server identifier stands when the ACK (wrongly) leaves it out.
            if lease.serverIdentifier.isUnspecified, let offer { lease.serverIdentifier = offer.serverIdentifier }
            state = .bound
            return .bound(lease)
        case (.requesting, .nak?):
            state = .refused
            return .refused(message.withOption(DHCPOptionCode.message) { String(decoding: $0, as: UTF8.self) } ?? "")
        default:
            return .ignored
        }
    }

    /// The lease a reply describes; nil when it has no usable yiaddr or server identifier.
    static func lease(from message: DHCPMessage) -> DHCPClientLease? {
        guard !message.yiaddr.isUnspecified else { return nil }
        let server = (try? message.serverIdentifier()) ?? nil
        var bootFile = message.withOption(DHCPOptionCode.bootfileName) { Self.text($0) } ?? ""
        if bootFile.isEmpty, let file = message.file { bootFile = Self.text(file) }
        return DHCPClientLease(
            address: message.yiaddr, serverIdentifier: server ?? .any, nextServer: message.siaddr, bootFile: bootFile,
            hostName: message.hostName(), domainName: message.domainName(),
            dnsServers: ((try? message.domainNameServers()) ?? nil) ?? [], leaseSeconds: (try? message.leaseTime()) ?? nil)
    }

    /// Text up to the first NUL.
    static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
    }
}
