import Tables
import Wire

/// Facts about a request that the datagram itself does not carry.
public struct DHCPRequestContext: Sendable {
    /// Our address on the interface the request arrived on (IP_PKTINFO `ipi_spec_dst`): the
    /// server identifier, and the subnet of a request that was not relayed.
    public var localAddress: IPv4Address
    /// The request's destination: 255.255.255.255 for a broadcast (REBINDING), else ours.
    public var destinationAddress: IPv4Address
    /// Unix seconds.
    public var now: UInt64

    public init(localAddress: IPv4Address, destinationAddress: IPv4Address, now: UInt64) {
        self.localAddress = localAddress
        self.destinationAddress = destinationAddress
        self.now = now
    }
}

/// The DHCPv4 server's policy (RFC 2131, 2132, 3046, 4578): given a request, the tables and the
/// lease state, decide the reply and write it into the buffer it is given. No I/O, no clock
/// reads, no logging: the rack does those around it.
public final class DHCPServer {
    public let leases: DHCPLeaseTable
    public private(set) var counters = DHCPCounters()
    private var rateLimiter = MACRateLimiter()

    public init(leases: DHCPLeaseTable = DHCPLeaseTable()) {
        self.leases = leases
    }

    /// Decides the answer to one datagram received on the server port.
    public func respond(to bytes: UnsafeRawBufferPointer, context: DHCPRequestContext, tables: TableSnapshot,
                        reply: UnsafeMutableRawBufferPointer) -> DHCPVerdict {
        let verdict: DHCPVerdict
        do {
            let message = try DHCPMessage(parsing: bytes)
            verdict = try decide(message, context: context, tables: tables, reply: reply)
        } catch {
            verdict = error.reason == .noSpace ? .drop(.replyTooLarge) : .drop(.malformed)
        }
        switch verdict {
        case .reply(_, _, let type, let change):
            counters.sent[Int(type.rawValue)] &+= 1
            if change?.kind == .bound { counters.leasesBound &+= 1 }
        case .noReply(let change):
            if change?.kind == .released { counters.leasesReleased &+= 1 }
            if change?.kind == .declined { counters.addressesDeclined &+= 1 }
        case .drop(let reason):
            counters.dropped[reason.rawValue] &+= 1
        }
        return verdict
    }

    private func decide(_ m: DHCPMessage, context: DHCPRequestContext, tables: TableSnapshot,
                        reply: UnsafeMutableRawBufferPointer) throws(WireError) -> DHCPVerdict {
        guard m.op == 1 else { return .drop(.notARequest) }
        guard let rawType = m.rawMessageType else { return .drop(.noMessageType) }
        counters.received[Int(min(rawType, 18))] &+= 1
        guard let type = m.messageType else { return .drop(.unsupportedMessageType) }
        // Addresses are bound to Ethernet hardware addresses here (htype 1, hlen 6).
        guard let mac = m.clientMAC else { return .drop(.unsupportedHardware) }
        guard rateLimiter.allow(mac, now: context.now, limit: tables.perMACRequestsPerSecond) else { return .drop(.rateLimited) }
        guard let subnet = selectSubnet(m, context: context, tables: tables) else { return .drop(.noSubnet) }
        let client = m.withOption(DHCPOptionCode.clientIdentifier) { DHCPClientKey(mac: mac, clientID: $0) }
            ?? DHCPClientKey(mac: mac, clientID: nil)
        // A reservation by client identifier wins; without one (most clients that send 61, iPXE
        // among them, are reserved by MAC) the MAC decides. (`withOption` returns an optional of
        // an optional: flatten it explicitly before falling back.)
        let byClientID = m.withOption(DHCPOptionCode.clientIdentifier) { tables.reservation(clientID: $0) }.flatMap { $0 }
        let reservation = byClientID ?? tables.reservation(mac: mac)
        let request = Request(message: m, mac: mac, client: client, subnet: subnet, reservation: reservation,
                              serverID: context.localAddress, context: context, tables: tables)

        if tables.isProxyDHCP {
            return try proxyReply(request, type: type, reply: reply)
        }
        switch type {
        case .discover:
            return try discover(request, reply: reply)
        case .request:
            return try requestReceived(request, reply: reply)
        case .decline:
            return decline(request)
        case .release:
            return release(request)
        case .inform:
            return try write(.ack, request, yiaddr: .any, leaseSeconds: nil, reply: reply, change: nil)
        default:
            return .drop(.unsupportedMessageType)
        }
    }

    /// Everything the decision functions need about one request.
    struct Request {
        let message: DHCPMessage
        let mac: MACAddress
        let client: DHCPClientKey
        let subnet: SubnetView
        let reservation: ReservationView?
        let serverID: IPv4Address
        let context: DHCPRequestContext
        let tables: TableSnapshot

        /// The reservation's address if it lies in this subnet (a machine moved between
        /// subnets gets a dynamic address on the new one).
        var reservedAddress: IPv4Address? {
            guard let address = reservation?.address, subnet.contains(address) else { return nil }
            return address
        }

        var isKnown: Bool { reservation != nil }
    }

    // MARK: Subnet selection

    /// RFC 3527 link selection (82/5) and RFC 3011 subnet selection (118) name the client's
    /// link explicitly; else a relayed request's giaddr does (RFC 2131 §4.3.1: "If 'giaddr' is
    /// non-zero, the server selects an address from the subnet of 'giaddr'"), else the address
    /// of the interface the broadcast arrived on.
    private func selectSubnet(_ m: DHCPMessage, context: DHCPRequestContext, tables: TableSnapshot) -> SubnetView? {
        if let link = m.withOption(DHCPOptionCode.relayAgentInformation, { value -> IPv4Address? in
            guard let raw = try? DHCPSubOptionIterator.find(RelayAgentSubOption.linkSelection, in: value), raw.count == 4 else { return nil }
            return IPv4Address(bytes: raw, at: 0)
        }) ?? nil, let subnet = tables.subnet(containing: link) {
            return subnet
        }
        if let selection = try? m.subnetSelection(), let subnet = tables.subnet(containing: selection) { return subnet }
        if !m.giaddr.isUnspecified { return tables.subnet(containing: m.giaddr) }
        return tables.subnet(containing: context.localAddress)
    }

    // MARK: DISCOVER

    private func discover(_ r: Request, reply: UnsafeMutableRawBufferPointer) throws(WireError) -> DHCPVerdict {
        guard r.isKnown || !r.subnet.ignoresUnknownClients else { return .drop(.unknownClient) }
        guard let address = chooseAddress(r) else { return .drop(.poolExhausted) }
        let lease = DHCPLease(address: address, mac: r.mac, client: r.client, state: .offered,
                              expiresAt: r.context.now + leases.offerHoldSeconds, hostname: [])
        // A bound lease stays bound while the client rediscovers; only new addresses are held
        // as offers.
        if leases.lease(at: address)?.state != .bound || leases.lease(at: address)?.client != r.client {
            leases.record(lease)
        }
        return try write(.offer, r, yiaddr: address, leaseSeconds: leaseSeconds(r), reply: reply, change: nil)
    }

    /// RFC 2131 §4.3.1's order: the client's current binding, then a reservation, then the
    /// requested address if free, then a free address from the pools.
    private func chooseAddress(_ r: Request) -> IPv4Address? {
        if let reserved = r.reservedAddress { return reserved }
        if let pinned = circuitPin(r) { return pinned }
        if let current = leases.lease(for: r.client), r.subnet.contains(current.address),
           isAssignable(current.address, r) {
            return current.address
        }
        if let requested = try? r.message.requestedIPAddress(), isAssignable(requested, r) { return requested }
        for range in r.subnet.ranges where range.isPool {
            if let address = leases.allocate(from: range, in: r.subnet, for: r.client, now: r.context.now) {
                return address
            }
        }
        return nil
    }

    /// An option-82 circuit id pinned to an address in the site file.
    private func circuitPin(_ r: Request) -> IPv4Address? {
        r.message.withOption(DHCPOptionCode.relayAgentInformation) { value -> IPv4Address? in
            guard let circuit = try? DHCPSubOptionIterator.find(RelayAgentSubOption.circuitID, in: value),
                  let pin = r.tables.circuitPin(circuit), pin.subnet == r.subnet.index else { return nil }
            return pin.address
        } ?? nil
    }

    /// A dynamic address the client may have: in one of the subnet's pools, not in a reserved
    /// range, and free or already the client's. Machines' static addresses need no check here:
    /// a snapshot whose reservation lies in a pool outside a reserved range is refused when it
    /// is opened (`TableSnapshot` validation), so pools never contain them.
    private func isAssignable(_ address: IPv4Address, _ r: Request) -> Bool {
        r.subnet.isInPool(address) && !r.subnet.isReserved(address)
            && address != r.subnet.network && address != r.subnet.broadcast
            && leases.isFree(address, for: r.client, now: r.context.now)
    }

    private func leaseSeconds(_ r: Request) -> UInt32 {
        let pxe = r.subnet.pxeLeaseSeconds
        if pxe > 0, isBootFirmware(r.message) { return pxe }
        return r.subnet.leaseSeconds
    }

    // MARK: REQUEST

    /// RFC 2131 §4.3.2: the client's state is read from the request's fields.
    private func requestReceived(_ r: Request, reply: UnsafeMutableRawBufferPointer) throws(WireError) -> DHCPVerdict {
        let m = r.message
        let serverID = try m.serverIdentifier()
        let requested = try m.requestedIPAddress()
        if let serverID {
            // SELECTING: "If the server identifier does not match, the client has chosen
            // another server": forget our offer, say nothing.
            guard serverID == r.serverID else {
                if leases.lease(for: r.client)?.state == .offered { leases.release(r.client) }
                return .drop(.otherServerSelected)
            }
            guard let requested, m.ciaddr.isUnspecified else { return try nak(r, reply: reply) }
            return try confirm(requested, r, reply: reply, silentWithoutRecord: false)
        }
        if let requested {
            // INIT-REBOOT: "Server SHOULD send a DHCPNAK message to the client if the
            // 'requested IP address' is incorrect, or is on the wrong network."
            guard r.subnet.contains(requested) else { return try nak(r, reply: reply) }
            return try confirm(requested, r, reply: reply, silentWithoutRecord: true)
        }
        guard !m.ciaddr.isUnspecified else { return .drop(.malformed) }
        // RENEWING (unicast to us) or REBINDING (broadcast): ciaddr is the address in use.
        let rebinding = r.context.destinationAddress == .broadcast
        guard r.subnet.contains(m.ciaddr) else {
            return rebinding ? .drop(.noRecord) : try nak(r, reply: reply)
        }
        return try confirm(m.ciaddr, r, reply: reply, silentWithoutRecord: rebinding)
    }

    /// ACKs `address` for the client if it may have it, NAKs if someone else holds it or it is
    /// not one we would give; with no record at all and `silentWithoutRecord`, says nothing
    /// ("If the DHCP server has no record of this client, then it MUST remain silent").
    private func confirm(_ address: IPv4Address, _ r: Request, reply: UnsafeMutableRawBufferPointer,
                         silentWithoutRecord: Bool) throws(WireError) -> DHCPVerdict {
        let held = leases.lease(for: r.client)
        if let reserved = r.reservedAddress ?? circuitPin(r) {
            guard address == reserved else { return try nak(r, reply: reply) }
            return try bind(address, r, reply: reply)
        }
        guard r.isKnown || !r.subnet.ignoresUnknownClients else { return .drop(.unknownClient) }
        if held == nil, silentWithoutRecord, leases.lease(at: address) == nil {
            // No record of this client. An address still free in our pool is granted (state
            // lost in a crash must not strand clients); anything else is not ours to judge.
            guard isAssignable(address, r) else { return .drop(.noRecord) }
        }
        guard isAssignable(address, r) else { return try nak(r, reply: reply) }
        return try bind(address, r, reply: reply)
    }

    private func bind(_ address: IPv4Address, _ r: Request, reply: UnsafeMutableRawBufferPointer) throws(WireError) -> DHCPVerdict {
        let seconds = leaseSeconds(r)
        var hostname: [UInt8] = []
        if let reservation = r.reservation, !reservation.hostname.isEmpty {
            hostname = Array(reservation.hostname)
        } else if let name = r.message.withOption(DHCPOptionCode.hostName, { Array($0) }) {
            hostname = name
        } else if let name = r.message.withOption(81, { Self.clientFQDNHostLabel($0) }) {
            hostname = name
        }
        let lease = DHCPLease(address: address, mac: r.mac, client: r.client, state: .bound,
                              expiresAt: r.context.now + UInt64(seconds), hostname: hostname,
                              clientID: r.message.withOption(DHCPOptionCode.clientIdentifier) { Array($0) } ?? [])
        leases.record(lease)
        return try write(.ack, r, yiaddr: address, leaseSeconds: seconds, reply: reply,
                         change: DHCPLeaseChange(kind: .bound, lease: lease))
    }

    /// The first label of option 81 (RFC 4702 §2): flags, two obsolete RCODE bytes, then the
    /// name — in wire form when the E flag is set, as ASCII text otherwise.
    static func clientFQDNHostLabel(_ option: UnsafeRawBufferPointer) -> [UInt8] {
        guard option.count > 3 else { return [] }
        let name = UnsafeRawBufferPointer(rebasing: option[3...])
        if option[0] & 0x04 != 0 {
            let length = Int(name[0])
            guard length > 0, length <= 63, 1 + length <= name.count else { return [] }
            return Array(name[1...length])
        }
        return Array(name.prefix { $0 != UInt8(ascii: ".") })
    }

    private func nak(_ r: Request, reply: UnsafeMutableRawBufferPointer) throws(WireError) -> DHCPVerdict {
        try write(.nak, r, yiaddr: .any, leaseSeconds: nil, reply: reply, change: nil)
    }

    // MARK: DECLINE, RELEASE

    /// RFC 2131 §4.3.3: the address is in use by someone else; mark it so nobody gets it.
    private func decline(_ r: Request) -> DHCPVerdict {
        guard let address = try? r.message.requestedIPAddress(), r.subnet.contains(address) else { return .drop(.malformed) }
        let lease = leases.lease(at: address)
        guard lease == nil || lease?.client == r.client else { return .drop(.noRecord) }
        let until = r.context.now + UInt64(r.tables.declineQuarantineSeconds)
        leases.quarantine(address, until: until)
        let record = DHCPLease(address: address, mac: r.mac, client: r.client, state: .bound, expiresAt: until, hostname: [])
        return .noReply(change: DHCPLeaseChange(kind: .declined, lease: record))
    }

    /// RFC 2131 §4.3.4: the client gives its address back.
    private func release(_ r: Request) -> DHCPVerdict {
        guard let lease = leases.release(r.client, address: r.message.ciaddr) else { return .drop(.noRecord) }
        return .noReply(change: DHCPLeaseChange(kind: .released, lease: lease))
    }

    // MARK: proxyDHCP

    /// A rack beside another DHCP server answers PXE clients with boot options only (no
    /// address), on port 67 (OFFER to DISCOVER) and 4011 (ACK to REQUEST), per the PXE spec.
    private func proxyReply(_ r: Request, type: DHCPMessageType, reply: UnsafeMutableRawBufferPointer) throws(WireError) -> DHCPVerdict {
        guard isBootFirmware(r.message) else { return .drop(.proxyOnly) }
        switch type {
        case .discover: return try write(.offer, r, yiaddr: .any, leaseSeconds: nil, reply: reply, change: nil)
        case .request, .inform: return try write(.ack, r, yiaddr: .any, leaseSeconds: nil, reply: reply, change: nil)
        default: return .drop(.proxyOnly)
        }
    }

    // MARK: Replies

    /// PXE firmware (vendor class PXEClient, or an architecture option) and iPXE.
    private func isBootFirmware(_ m: DHCPMessage) -> Bool {
        m.vendorClassHasPrefix("PXEClient") || m.vendorClassHasPrefix("HTTPClient")
            || m.contains(DHCPOptionCode.clientSystemArchitecture) || isIPXE(m)
    }

    private func isIPXE(_ m: DHCPMessage) -> Bool {
        m.userClassContains("iPXE") || m.contains(DHCPOptionCode.ipxeEncapsulated)
    }

    /// What a booting client is told to load, and the option 60 to echo.
    struct BootChoice {
        var file: UnsafeRawBufferPointer
        var vendorClass: StaticString?
        var nextServer: IPv4Address?
        var pxelinux: Bool
    }

    /// RFC 4578 option 93 architectures: 0 x86 BIOS; 6 EFI IA32; 7 and 9 EFI x64; 10 EFI
    /// ARM32; 11 EFI ARM64; 16 x64 HTTP boot; 19 ARM64 HTTP boot.
    private func bootChoice(_ r: Request) -> BootChoice? {
        let m = r.message
        guard isBootFirmware(m) else { return nil }
        let profile = r.subnet.bootProfile
        let nextServer = profile.nextServer ?? r.subnet.nextServer ?? r.serverID
        let architecture = (try? m.clientSystemArchitecture()) ?? nil
        let pxe: StaticString? = m.vendorClassHasPrefix("PXEClient") ? "PXEClient" : nil
        // iPXE chain-loaded by the ROM asks again; give it the script, not the ROM's loader.
        if isIPXE(m), !profile.ipxeScript.isEmpty {
            return BootChoice(file: profile.ipxeScript, vendorClass: pxe, nextServer: nextServer, pxelinux: false)
        }
        if m.vendorClassHasPrefix("HTTPClient") || architecture == 16 || architecture == 19 {
            return BootChoice(file: profile.httpBootURL, vendorClass: "HTTPClient", nextServer: nextServer, pxelinux: false)
        }
        switch architecture {
        case 7, 9: return BootChoice(file: profile.uefiX64, vendorClass: pxe, nextServer: nextServer, pxelinux: false)
        case 11: return BootChoice(file: profile.uefiArm64, vendorClass: pxe, nextServer: nextServer, pxelinux: false)
        default: return BootChoice(file: profile.bios, vendorClass: pxe, nextServer: nextServer, pxelinux: true)
        }
    }

    /// Writes an OFFER, ACK or NAK. Option order: 53 and 54 first (some ROMs look for them
    /// there), the network's parameters, boot options, and 82 last as RFC 3046 asks.
    private func write(_ type: DHCPMessageType, _ r: Request, yiaddr: IPv4Address, leaseSeconds: UInt32?,
                       reply: UnsafeMutableRawBufferPointer, change: DHCPLeaseChange?) throws(WireError) -> DHCPVerdict {
        let m = r.message
        let isNAK = type == .nak
        let boot = isNAK ? nil : bootChoice(r)
        var out = DHCPMessageWriter(into: reply, maximumMessageSize: try m.maximumMessageSize())
        // RFC 2131 §4.3.2: a NAK relayed through giaddr has the broadcast bit set, so the relay
        // broadcasts it to a client that has no usable address.
        let flags = isNAK && !m.giaddr.isUnspecified ? m.flags | DHCPLayout.broadcastFlag : m.flags
        let chaddr = UnsafeRawBufferPointer(rebasing: m.bytes[DHCPLayout.chaddr..<DHCPLayout.chaddr + DHCPLayout.chaddrLength])
        // INFORM and RENEW replies keep the client's ciaddr; a NAK clears everything.
        let ciaddr = isNAK ? IPv4Address.any : m.ciaddr
        try out.writeHeader(op: 2, htype: m.htype, hlen: m.hlen, hops: 0, xid: m.xid, secs: 0, flags: flags,
                            ciaddr: ciaddr, yiaddr: yiaddr, siaddr: boot?.nextServer ?? .any, giaddr: m.giaddr,
                            chaddr: chaddr, sname: nil, file: boot.map { $0.file.count <= DHCPLayout.fileLength ? $0.file : UnsafeRawBufferPointer(start: nil, count: 0) })
        try out.writeMessageType(type, serverIdentifier: r.serverID)
        if !isNAK {
            try writeParameters(&out, r, leaseSeconds: leaseSeconds, boot: boot)
        }
        try m.withOption(DHCPOptionCode.relayAgentInformation) { (value) throws(WireError) in
            try out.writeOption(DHCPOptionCode.relayAgentInformation, value)
        }
        let length = try out.finish()
        return .reply(length: length, destination: destination(for: type, m, yiaddr: yiaddr), type: type, change: change)
    }

    private func writeParameters(_ out: inout DHCPMessageWriter, _ r: Request, leaseSeconds: UInt32?, boot: BootChoice?) throws(WireError) {
        let subnet = r.subnet
        if let seconds = leaseSeconds {
            try out.writeOption(DHCPOptionCode.leaseTime, uint32: seconds)
            // RFC 2131 §4.4.5 defaults: T1 = 0.5 × lease, T2 = 0.875 × lease.
            try out.writeOption(DHCPOptionCode.renewalTime, uint32: seconds / 2)
            try out.writeOption(DHCPOptionCode.rebindingTime, uint32: UInt32(UInt64(seconds) * 7 / 8))
        }
        try out.writeOption(DHCPOptionCode.subnetMask, uint32: subnet.mask)
        try out.writeOption(DHCPOptionCode.broadcastAddress, address: subnet.broadcast)
        if let gateway = subnet.gateway { try out.writeOption(DHCPOptionCode.router, address: gateway) }
        if !subnet.dnsServers.isEmpty { try out.writeOption(DHCPOptionCode.domainNameServer, addresses: subnet.dnsServers) }
        let domain = subnet.domain.isEmpty ? r.tables.domain : subnet.domain
        if !domain.isEmpty { try out.writeOption(DHCPOptionCode.domainName, domain) }
        if subnet.mtu >= 68 { try out.writeOption(DHCPOptionCode.interfaceMTU, uint16: subnet.mtu) }
        if let reservation = r.reservation, !reservation.hostname.isEmpty {
            try out.writeOption(DHCPOptionCode.hostName, reservation.hostname)
        }
        guard let boot else { return }
        if let vendorClass = boot.vendorClass { try out.writeOption(DHCPOptionCode.vendorClassIdentifier, string: vendorClass) }
        if !boot.file.isEmpty { try out.writeOption(DHCPOptionCode.bootfileName, boot.file) }
        if boot.pxelinux, requested(DHCPOptionCode.pxelinuxConfigFile, r.message) {
            // pxelinux would probe 01-<mac>, then hex prefixes, then default: name its file.
            try writePXELinuxConfigName(r.mac, into: &out)
        }
    }

    private func requested(_ code: UInt8, _ m: DHCPMessage) -> Bool {
        m.withOption(DHCPOptionCode.parameterRequestList) { $0.contains(code) } ?? false
    }

    /// Option 209 "pxelinux.cfg/01-52-54-00-00-00-01", written in place.
    private func writePXELinuxConfigName(_ mac: MACAddress, into out: inout DHCPMessageWriter) throws(WireError) {
        let prefix: StaticString = "pxelinux.cfg/01"
        let length = prefix.utf8CodeUnitCount + 18
        guard out.remainingForOptions >= 2 + length else { throw WireError(.noSpace, "dhcp.option209", at: out.writer.count) }
        try out.writer.writeUInt8(DHCPOptionCode.pxelinuxConfigFile, "dhcp.option.code")
        try out.writer.writeUInt8(UInt8(length), "dhcp.option.length")
        try out.writer.writeBytes(prefix, "dhcp.option209")
        let digits: StaticString = "0123456789abcdef"
        for i in 0..<6 {
            let octet = mac.octet(i)
            try out.writer.writeUInt8(UInt8(ascii: "-"), "dhcp.option209")
            try out.writer.writeUInt8(digits.utf8Start[Int(octet >> 4)], "dhcp.option209")
            try out.writer.writeUInt8(digits.utf8Start[Int(octet & 0xF)], "dhcp.option209")
        }
    }

    /// RFC 2131 §4.1: "If the 'giaddr' field in a DHCP message from a client is non-zero, the
    /// server sends any return messages to the 'DHCP server' port on the BOOTP relay agent
    /// whose address appears in 'giaddr'. If the 'giaddr' field is zero and the 'ciaddr' field
    /// is nonzero, then the server unicasts DHCPOFFER and DHCPACK messages to the address in
    /// 'ciaddr'. If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit is set, then
    /// the server broadcasts DHCPOFFER and DHCPACK messages to 0xffffffff. If the broadcast bit
    /// is not set and 'giaddr' is zero and 'ciaddr' is zero, then the server unicasts DHCPOFFER
    /// and DHCPACK messages to the client's hardware address and 'yiaddr' address. In all
    /// cases, when 'giaddr' is zero, the server broadcasts any DHCPNAK messages to 0xffffffff."
    func destination(for type: DHCPMessageType, _ m: DHCPMessage, yiaddr: IPv4Address) -> DHCPDestination {
        if !m.giaddr.isUnspecified { return .relay(m.giaddr) }
        if type == .nak { return .broadcast }
        if !m.ciaddr.isUnspecified { return .unicast(m.ciaddr) }
        if m.isBroadcast || yiaddr.isUnspecified { return .broadcast }
        guard let mac = m.clientMAC else { return .broadcast }
        return .link(mac: mac, address: yiaddr)
    }
}

extension DHCPMessageWriter {
    mutating func writeOption(_ code: UInt8, _ bytes: UnsafeRawBufferPointer?) throws(WireError) {
        guard let bytes else { return }
        try writeOption(code, bytes)
    }
}
