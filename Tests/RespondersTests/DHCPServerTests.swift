import Testing
@testable import Responders
import Tables
import Wire

/// A world of one local subnet (198.18.0.0/24, rack at .1) and one relayed subnet
/// (198.19.0.0/16 behind a relay at 198.19.0.1).
func dhcpTables(ignoreUnknown: Bool = false, pool: ClosedRange<IPv4Address>? = nil, proxy: Bool = false, pxeLease: UInt32 = 0) throws -> TableSnapshot {
    var builder = TablesBuilder()
    builder.domain = "maas.test"
    builder.proxyDHCP = proxy
    builder.perMACRequestsPerSecond = 10
    var local = TablesBuilder.Subnet(network: IPv4Address(198, 18, 0, 0), prefixLength: 24)
    local.gateway = IPv4Address(198, 18, 0, 1)
    local.nextServer = IPv4Address(198, 18, 0, 1)
    local.dnsServers = [IPv4Address(198, 18, 0, 1)]
    local.pools = [pool ?? IPv4Address(198, 18, 0, 100)...IPv4Address(198, 18, 0, 250)]
    local.reserved = [IPv4Address(198, 18, 0, 1)...IPv4Address(198, 18, 0, 20)]
    local.ignoreUnknownClients = ignoreUnknown
    local.pxeLeaseSeconds = pxeLease
    local.circuitPins = [(Array("eth0/7".utf8), IPv4Address(198, 18, 0, 77))]
    var relayed = TablesBuilder.Subnet(network: IPv4Address(198, 19, 0, 0), prefixLength: 16)
    relayed.gateway = IPv4Address(198, 19, 0, 1)
    relayed.pools = [IPv4Address(198, 19, 0, 10)...IPv4Address(198, 19, 255, 250)]
    builder.subnets = [local, relayed]
    var node = TablesBuilder.Reservation(mac: MACAddress("52:54:00:00:00:01")!, address: IPv4Address(198, 18, 0, 21))
    node.hostname = "node01"
    node.purpose = .commission
    var byID = TablesBuilder.Reservation(mac: MACAddress("52:54:00:00:00:02")!, address: IPv4Address(198, 18, 0, 22))
    byID.clientID = [0xFF, 1, 2, 3]
    builder.reservations = [node, byID]
    var profile = TablesBuilder.BootProfile()
    profile.bios = "lpxelinux.0"
    profile.uefiX64 = "bootx64.efi"
    profile.uefiArm64 = "bootaa64.efi"
    profile.httpBootURL = "http://198.18.0.1:5248/bootx64.efi"
    profile.ipxeScript = "http://198.18.0.1:5248/ipxe.cfg"
    builder.bootProfiles = [profile]
    return try TableSnapshot(builder.build(generation: 1))
}

/// Builds client messages and runs them through a server, keeping replies parseable.
final class DHCPHarness {
    let server = DHCPServer()
    var tables: TableSnapshot
    var now: UInt64 = 1_800_000_000
    let rack = IPv4Address(198, 18, 0, 1)
    private var replies: [UnsafeMutableRawBufferPointer] = []

    init(tables: TableSnapshot) { self.tables = tables }
    deinit { for r in replies { r.deallocate() } }

    struct Options {
        var type: DHCPMessageType
        var mac = MACAddress("52:54:00:aa:00:01")!
        var xid: UInt32 = 0x1234
        var flags: UInt16 = 0
        var ciaddr = IPv4Address.any
        var giaddr = IPv4Address.any
        var requested: IPv4Address?
        var serverID: IPv4Address?
        var clientID: [UInt8]?
        var extra: [(UInt8, [UInt8])] = []
        var maxMessageSize: UInt16?
    }

    static func build(_ o: Options) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { buffer.deallocate() }
        var w = DHCPMessageWriter(into: buffer)
        var mac = [UInt8](repeating: 0, count: 6)
        for i in 0..<6 { mac[i] = o.mac.octet(i) }
        try! mac.withUnsafeBytes { chaddr in
            try w.writeHeader(op: 1, xid: o.xid, flags: o.flags, ciaddr: o.ciaddr, giaddr: o.giaddr, chaddr: chaddr)
        }
        try! w.writeOption(DHCPOptionCode.messageType, uint8: o.type.rawValue)
        if let requested = o.requested { try! w.writeOption(DHCPOptionCode.requestedIPAddress, address: requested) }
        if let serverID = o.serverID { try! w.writeOption(DHCPOptionCode.serverIdentifier, address: serverID) }
        if let clientID = o.clientID { try! clientID.withUnsafeBytes { try w.writeOption(DHCPOptionCode.clientIdentifier, $0) } }
        if let size = o.maxMessageSize { try! w.writeOption(DHCPOptionCode.maximumMessageSize, uint16: size) }
        for (code, value) in o.extra { try! value.withUnsafeBytes { try w.writeOption(code, $0) } }
        let length = try! w.finish()
        return Array(buffer[0..<length])
    }

    func send(_ bytes: [UInt8], local: IPv4Address? = nil, destination: IPv4Address = .broadcast) -> (DHCPVerdict, DHCPMessage?) {
        let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        replies.append(reply)
        let verdict = bytes.withUnsafeBytes {
            server.respond(to: $0, context: DHCPRequestContext(localAddress: local ?? rack, destinationAddress: destination, now: now),
                           tables: tables, reply: reply)
        }
        guard case .reply(let length, _, _, _) = verdict else { return (verdict, nil) }
        return (verdict, try? DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: reply[0..<length])))
    }

    func send(_ options: Options, local: IPv4Address? = nil, destination: IPv4Address = .broadcast) -> (DHCPVerdict, DHCPMessage?) {
        send(Self.build(options), local: local, destination: destination)
    }

    /// DISCOVER then REQUEST (SELECTING); returns the ACK.
    func dora(_ mac: MACAddress, extra: [(UInt8, [UInt8])] = []) -> DHCPMessage? {
        guard let offer = send(Options(type: .discover, mac: mac, extra: extra)).1 else { return nil }
        return send(Options(type: .request, mac: mac, requested: offer.yiaddr, serverID: rack, extra: extra)).1
    }
}

func destination(_ v: DHCPVerdict) -> DHCPDestination? {
    if case .reply(_, let d, _, _) = v { return d }
    return nil
}

func dropReason(_ v: DHCPVerdict) -> DHCPDropReason? {
    if case .drop(let reason) = v { return reason }
    return nil
}

func text(_ s: String?) -> String { s ?? "<none>" }

@Suite struct DHCPServerTests {
    @Test func discoverGetsAnOfferFromThePoolWithTheNetworksParameters() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let (verdict, offer) = h.send(.init(type: .discover, flags: DHCPLayout.broadcastFlag))
        let m = try #require(offer)
        #expect(m.op == 2 && m.messageType == .offer && m.xid == 0x1234)
        #expect(m.yiaddr == IPv4Address(198, 18, 0, 100))
        #expect(Array(m.options.map(\.code).prefix(2)) == [53, 54], "53 then 54 first")
        #expect(try m.serverIdentifier() == h.rack)
        #expect(try m.leaseTime() == 600)
        #expect(try m.renewalTime() == 300)
        #expect(try m.rebindingTime() == 525)
        #expect(try m.subnetMask() == IPv4Address(255, 255, 255, 0))
        #expect(try m.routers() == [IPv4Address(198, 18, 0, 1)])
        #expect(try m.domainNameServers() == [IPv4Address(198, 18, 0, 1)])
        #expect(m.domainName() == "maas.test")
        #expect(try m.broadcastAddress() == IPv4Address(198, 18, 0, 255))
        #expect(destination(verdict) == .broadcast)
        #expect(m.bytes.count >= 300, "padded to the BOOTP minimum")
    }

    @Test func unicastOfferGoesToTheHardwareAddress() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let (verdict, offer) = h.send(.init(type: .discover))
        #expect(destination(verdict) == .link(mac: MACAddress("52:54:00:aa:00:01")!, address: try #require(offer).yiaddr))
    }

    @Test func fullExchangeBindsAndTheClientKeepsItsAddress() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let mac = MACAddress("52:54:00:aa:00:09")!
        let ack = try #require(h.dora(mac))
        #expect(ack.messageType == .ack)
        let lease = try #require(h.server.leases.lease(at: ack.yiaddr))
        #expect(lease.state == .bound && lease.mac == mac && lease.expiresAt == h.now + 600)
        // Another client gets another address; the first gets its own back on rediscovery.
        let other = try #require(h.dora(MACAddress("52:54:00:aa:00:0a")!))
        #expect(other.yiaddr != ack.yiaddr)
        let again = try #require(h.send(.init(type: .discover, mac: mac)).1)
        #expect(again.yiaddr == ack.yiaddr)
    }

    @Test func ackCarriesTheLeaseChangeThatMustBeDurable() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let offer = try #require(h.send(.init(type: .discover)).1)
        let (verdict, _) = h.send(.init(type: .request, requested: offer.yiaddr, serverID: h.rack))
        guard case .reply(_, _, .ack, let change) = verdict else {
            Issue.record("expected an ACK, got \(verdict)")
            return
        }
        #expect(change?.kind == .bound && change?.lease.address == offer.yiaddr)
    }

    @Test func choosingAnotherServerReleasesOurOffer() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let offer = try #require(h.send(.init(type: .discover)).1)
        let (verdict, _) = h.send(.init(type: .request, requested: offer.yiaddr, serverID: IPv4Address(198, 18, 0, 2)))
        #expect(dropReason(verdict) == .otherServerSelected)
        #expect(h.server.leases.lease(at: offer.yiaddr) == nil)
    }

    @Test func initRebootIsNakedOnTheWrongNetworkAndAckedWhenFree() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let (wrong, nak) = h.send(.init(type: .request, requested: IPv4Address(10, 0, 0, 5)))
        #expect(try #require(nak).messageType == .nak)
        #expect(destination(wrong) == .broadcast, "NAKs are broadcast when giaddr is zero")
        #expect(nak?.yiaddr == .any)
        // No record, but the address is free in our pool: granted (state lost in a crash).
        let (_, ack) = h.send(.init(type: .request, requested: IPv4Address(198, 18, 0, 150)))
        #expect(ack?.messageType == .ack && ack?.yiaddr == IPv4Address(198, 18, 0, 150))
        // Someone else's address: NAK.
        let (_, taken) = h.send(.init(type: .request, mac: MACAddress("52:54:00:aa:00:02")!, requested: IPv4Address(198, 18, 0, 150)))
        #expect(taken?.messageType == .nak)
        // Outside the pools on our network (a reserved range): not ours to give, silent.
        let (reserved, _) = h.send(.init(type: .request, mac: MACAddress("52:54:00:aa:00:03")!, requested: IPv4Address(198, 18, 0, 5)))
        #expect(dropReason(reserved) == .noRecord)
    }

    @Test func renewingIsUnicastToCiaddrAndRebindingUnknownIsSilent() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let mac = MACAddress("52:54:00:aa:00:11")!
        let ack = try #require(h.dora(mac))
        h.now += 300
        let (renew, renewed) = h.send(.init(type: .request, mac: mac, ciaddr: ack.yiaddr), destination: h.rack)
        #expect(renewed?.messageType == .ack)
        #expect(renewed?.ciaddr == ack.yiaddr)
        #expect(destination(renew) == .unicast(ack.yiaddr))
        #expect(h.server.leases.lease(at: ack.yiaddr)?.expiresAt == h.now + 600)
        let (rebind, _) = h.send(.init(type: .request, mac: MACAddress("52:54:00:aa:00:12")!, ciaddr: IPv4Address(10, 1, 1, 1)))
        #expect(dropReason(rebind) == .noRecord)
        let (renewElsewhere, nak) = h.send(.init(type: .request, mac: MACAddress("52:54:00:aa:00:12")!, ciaddr: IPv4Address(10, 1, 1, 1)), destination: h.rack)
        #expect(nak?.messageType == .nak && destination(renewElsewhere) == .broadcast)
    }

    @Test func reservationsByMACAndByClientIdentifier() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let ack = try #require(h.dora(MACAddress("52:54:00:00:00:01")!))
        #expect(ack.yiaddr == IPv4Address(198, 18, 0, 21))
        #expect(ack.hostName() == "node01")
        let (_, byID) = h.send(.init(type: .discover, mac: MACAddress("52:54:00:99:99:99")!, clientID: [0xFF, 1, 2, 3]))
        #expect(byID?.yiaddr == IPv4Address(198, 18, 0, 22))
        // A reserved client asking for another address is told no.
        let (_, nak) = h.send(.init(type: .request, mac: MACAddress("52:54:00:00:00:01")!, requested: IPv4Address(198, 18, 0, 120), serverID: h.rack))
        #expect(nak?.messageType == .nak)
    }

    /// Found by the QEMU boot test: iPXE always sends option 61; when no reservation matched the
    /// client identifier, the MAC reservation was never consulted, so reserved machines got
    /// pool addresses and the enlistment boot.
    @Test func aClientIdentifierWithoutItsOwnReservationStillMatchesByMAC() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let mac = MACAddress("52:54:00:00:00:01")!
        let (_, offer) = h.send(.init(type: .discover, mac: mac, clientID: [1, 0x52, 0x54, 0, 0, 0, 1]))
        #expect(offer?.yiaddr == IPv4Address(198, 18, 0, 21))
        #expect(offer?.hostName() == "node01")
    }

    @Test func unknownClientsAreIgnoredWhereTheSubnetSaysSo() throws {
        let h = DHCPHarness(tables: try dhcpTables(ignoreUnknown: true))
        #expect(dropReason(h.send(.init(type: .discover)).0) == .unknownClient)
        #expect(h.dora(MACAddress("52:54:00:00:00:01")!)?.yiaddr == IPv4Address(198, 18, 0, 21))
    }

    @Test func exhaustedPoolsDropAndCount() throws {
        let h = DHCPHarness(tables: try dhcpTables(pool: IPv4Address(198, 18, 0, 100)...IPv4Address(198, 18, 0, 102)))
        for i in 0..<3 { #expect(h.dora(MACAddress(0x5254_00bb_0000 + UInt64(i))) != nil) }
        #expect(dropReason(h.send(.init(type: .discover, mac: MACAddress(0x5254_00bb_00ff))).0) == .poolExhausted)
        #expect(h.server.counters.dropped[DHCPDropReason.poolExhausted.rawValue] == 1)
        // Leases expire; their addresses come back.
        h.now += 601
        #expect(h.send(.init(type: .discover, mac: MACAddress(0x5254_00bb_00ff))).1 != nil)
    }

    @Test func declineQuarantinesAndReleaseFrees() throws {
        let h = DHCPHarness(tables: try dhcpTables(pool: IPv4Address(198, 18, 0, 100)...IPv4Address(198, 18, 0, 101)))
        let mac = MACAddress("52:54:00:aa:00:21")!
        let ack = try #require(h.dora(mac))
        let (declined, _) = h.send(.init(type: .decline, mac: mac, requested: ack.yiaddr, serverID: h.rack))
        guard case .noReply(let change) = declined else {
            Issue.record("DECLINE gets no reply")
            return
        }
        #expect(change?.kind == .declined)
        #expect(h.server.leases.isQuarantined(ack.yiaddr, now: h.now))
        let next = try #require(h.dora(MACAddress("52:54:00:aa:00:22")!))
        #expect(next.yiaddr != ack.yiaddr)
        let (released, _) = h.send(.init(type: .release, mac: MACAddress("52:54:00:aa:00:22")!, ciaddr: next.yiaddr, serverID: h.rack))
        guard case .noReply(let freed) = released else {
            Issue.record("RELEASE gets no reply")
            return
        }
        #expect(freed?.kind == .released)
        #expect(h.server.leases.lease(at: next.yiaddr) == nil)
    }

    @Test func relayedRequestsUseGiaddrsSubnetAndEchoOption82() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let relay: [UInt8] = [1, 4, 0x65, 0x74, 0x68, 0x31, 2, 3, 9, 8, 7]
        let (verdict, offer) = h.send(.init(type: .discover, giaddr: IPv4Address(198, 19, 0, 1), extra: [(UInt8(82), relay)]))
        let m = try #require(offer)
        #expect(IPv4Address(198, 19, 0, 10) <= m.yiaddr && m.yiaddr <= IPv4Address(198, 19, 255, 250))
        #expect(m.giaddr == IPv4Address(198, 19, 0, 1))
        #expect(destination(verdict) == .relay(IPv4Address(198, 19, 0, 1)))
        #expect(m.options.map(\.code).last == 82, "option 82 last")
        #expect(m.withOption(82) { Array($0) } == relay, "echoed unchanged")
        #expect(try m.routers() == [IPv4Address(198, 19, 0, 1)])
        // A relayed NAK has the broadcast bit set.
        let (_, nak) = h.send(.init(type: .request, giaddr: IPv4Address(198, 19, 0, 1), requested: IPv4Address(10, 9, 9, 9)))
        #expect(nak?.messageType == .nak && nak?.isBroadcast == true)
    }

    @Test func circuitIDPinsAnAddress() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let relay: [UInt8] = [1, 6] + Array("eth0/7".utf8)
        let (_, offer) = h.send(.init(type: .discover, extra: [(UInt8(82), relay)]))
        #expect(offer?.yiaddr == IPv4Address(198, 18, 0, 77))
    }

    static let pxeCases: [(name: String, extra: [(UInt8, [UInt8])], file: String, vendor: String?)] = [
        ("BIOS", [(60, Array("PXEClient:Arch:00000:UNDI:002001".utf8)), (93, [0, 0])], "lpxelinux.0", "PXEClient"),
        ("UEFI x64", [(60, Array("PXEClient:Arch:00007:UNDI:003016".utf8)), (93, [0, 7])], "bootx64.efi", "PXEClient"),
        ("UEFI x64 (9)", [(60, Array("PXEClient:Arch:00009:UNDI:003016".utf8)), (93, [0, 9])], "bootx64.efi", "PXEClient"),
        ("UEFI arm64", [(60, Array("PXEClient:Arch:00011:UNDI:003000".utf8)), (93, [0, 11])], "bootaa64.efi", "PXEClient"),
        ("HTTP boot", [(60, Array("HTTPClient:Arch:00016:UNDI:003001".utf8)), (93, [0, 16])], "http://198.18.0.1:5248/bootx64.efi", "HTTPClient"),
        ("iPXE user class", [(60, Array("PXEClient:Arch:00000:UNDI:002001".utf8)), (93, [0, 0]), (77, Array("iPXE".utf8))], "http://198.18.0.1:5248/ipxe.cfg", "PXEClient"),
        ("iPXE option 175", [(175, [0xB1, 1, 1]), (93, [0, 0])], "http://198.18.0.1:5248/ipxe.cfg", nil),
    ]

    @Test(arguments: pxeCases.indices)
    func bootFirmwareGetsTheFileForItsArchitecture(index: Int) throws {
        let c = Self.pxeCases[index]
        let h = DHCPHarness(tables: try dhcpTables())
        let offer = try #require(h.send(.init(type: .discover, extra: c.extra)).1, "\(c.name)")
        #expect(offer.bootfileName() == c.file, "\(c.name)")
        #expect(offer.file.map { printable($0) } == c.file, "\(c.name): the BOOTP file field too")
        #expect(offer.siaddr == IPv4Address(198, 18, 0, 1), "\(c.name): next-server")
        #expect(offer.vendorClassIdentifier() == c.vendor, "\(c.name): option 60")
    }

    @Test func plainClientsGetNoBootOptions() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let offer = try #require(h.send(.init(type: .discover)).1)
        #expect(offer.bootfileName() == nil && offer.siaddr == .any && offer.vendorClassIdentifier() == nil)
    }

    @Test func bootFirmwareGetsTheShortPXELease() throws {
        let h = DHCPHarness(tables: try dhcpTables(pxeLease: 60))
        let offer = try #require(h.send(.init(type: .discover, extra: [(93, [0, 0])])).1)
        #expect(try offer.leaseTime() == 60)
        #expect(try h.send(.init(type: .discover, mac: MACAddress("52:54:00:aa:00:77")!)).1?.leaseTime() == 600)
    }

    @Test func pxelinuxIsToldItsConfigFile() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let offer = try #require(h.send(.init(type: .discover, mac: MACAddress("52:54:00:00:00:01")!, extra: [(93, [0, 0]), (55, [1, 3, 209, 210])])).1)
        #expect(offer.pxelinuxConfigFile() == "pxelinux.cfg/01-52-54-00-00-00-01")
    }

    /// The real iPXE boot of the shared corpus, replayed against the rack's policy.
    @Test func realIPXEBootGetsNextServerFileAndPXEClient() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        var answered = 0
        for file in ["pxe/ipxe-boot.pcap", "pxe/pxelinux-boot.pcap"] {
            for datagram in try CorpusDHCP.requests(file) {
                let (verdict, reply) = h.send(datagram)
                guard let reply else {
                    Issue.record("\(file): no reply to a \(verdict)")
                    continue
                }
                answered += 1
                #expect(reply.siaddr == IPv4Address(198, 18, 0, 1))
                #expect(reply.vendorClassIdentifier() == "PXEClient")
                let (iPXE, discover) = try datagram.withUnsafeBytes { raw in
                    let request = try DHCPMessage(parsing: raw)
                    return (request.userClassContains("iPXE"), request.messageType == .discover)
                }
                let expected = iPXE ? "http://198.18.0.1:5248/ipxe.cfg" : "lpxelinux.0"
                #expect(reply.bootfileName() == expected)
                #expect(reply.messageType == (discover ? .offer : .ack))
            }
        }
        #expect(answered >= 4)
    }

    @Test func malformedAndUnsupportedRequestsAreDroppedAndCounted() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        #expect(dropReason(h.send([1, 2, 3]).0) == .malformed)
        var reply = DHCPHarness.build(.init(type: .discover))
        reply[0] = 2
        #expect(dropReason(h.send(reply).0) == .notARequest)
        var lengthPastEnd = DHCPHarness.build(.init(type: .discover))
        lengthPastEnd[241] = 200
        #expect(dropReason(h.send(lengthPastEnd).0) == .malformed)
        #expect(dropReason(h.send(.init(type: .offer)).0) == .unsupportedMessageType)
        #expect(h.server.counters.dropped[DHCPDropReason.malformed.rawValue] == 2)
        // Still answering afterwards.
        #expect(h.send(.init(type: .discover)).1 != nil)
    }

    @Test func oneClientInARetryLoopIsRateLimited() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let results = (0..<12).map { _ in h.send(.init(type: .discover)).0 }
        #expect(results.prefix(10).allSatisfy { dropReason($0) == nil })
        #expect(results.suffix(2).allSatisfy { dropReason($0) == .rateLimited })
        #expect(h.send(.init(type: .discover, mac: MACAddress("52:54:00:aa:00:55")!)).1 != nil, "others unaffected")
        h.now += 1
        #expect(h.send(.init(type: .discover)).1 != nil, "and the budget refills")
    }

    @Test func informGetsParametersWithoutALease() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let (verdict, ack) = h.send(.init(type: .inform, ciaddr: IPv4Address(198, 18, 0, 5)), destination: h.rack)
        let m = try #require(ack)
        #expect(m.messageType == .ack && m.yiaddr == .any && m.ciaddr == IPv4Address(198, 18, 0, 5))
        #expect(try m.leaseTime() == nil)
        #expect(try m.routers() == [IPv4Address(198, 18, 0, 1)])
        #expect(destination(verdict) == .unicast(IPv4Address(198, 18, 0, 5)))
    }

    @Test func repliesRespectTheClientsMaximumMessageSize() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        let offer = try #require(h.send(.init(type: .discover, maxMessageSize: 576)).1)
        #expect(offer.bytes.count <= 576 - 28)
    }

    @Test func proxyModeGivesBootOptionsWithoutAnAddress() throws {
        let h = DHCPHarness(tables: try dhcpTables(proxy: true))
        let pxe: [(UInt8, [UInt8])] = [(60, Array("PXEClient:Arch:00000:UNDI:002001".utf8)), (93, [0, 0])]
        let offer = try #require(h.send(.init(type: .discover, extra: pxe)).1)
        #expect(offer.yiaddr == .any && offer.bootfileName() == "lpxelinux.0" && offer.vendorClassIdentifier() == "PXEClient")
        #expect(try offer.leaseTime() == nil)
        #expect(dropReason(h.send(.init(type: .discover, mac: MACAddress("52:54:00:aa:00:66")!)).0) == .proxyOnly)
    }

    @Test func requestsFromUnknownNetworksAreDropped() throws {
        let h = DHCPHarness(tables: try dhcpTables())
        #expect(dropReason(h.send(.init(type: .discover), local: IPv4Address(10, 0, 0, 1)).0) == .noSubnet)
    }
}
