import Testing
@testable import Fleet
import Responders
import Site
import Tables
import Wire

/// The demo's world: a local subnet and one behind a relay at 198.19.0.1, MAAS's boot files.
let relayedSite = """
domain: maas.test
subnets:
  - cidr: 198.18.0.0/24
    gateway: 198.18.0.1
    next_server: 198.18.0.1
    pools: [{start: 198.18.0.100, end: 198.18.0.250}]
    reserved: [{start: 198.18.0.1, end: 198.18.0.20}]
  - cidr: 198.19.0.0/16
    gateway: 198.19.0.1
    next_server: 198.18.0.1
    pools: [{start: 198.19.0.10, end: 198.19.255.250}]
boot:
  files: {bios: lpxelinux.0, uefi-x64: bootx64.efi}
  ipxe_script: http://198.18.0.1:5248/ipxe.cfg
machines:
  - {hostname: node01, mac: "52:54:00:00:00:01", ip: 198.18.0.21}
"""

/// A client exchange talking to the rack's real DHCP responder, no sockets in between.
struct ResponderLink {
    let server = DHCPServer()
    let tables: TableSnapshot
    let rack = IPv4Address(198, 18, 0, 1)
    let relay = IPv4Address(198, 19, 0, 1)

    init() throws {
        tables = try TableSnapshot(SiteCompiler.compile(try SiteFile.parse(relayedSite, file: "site.yaml"), generation: 1, createdAt: 0))
    }

    /// Sends the exchange's current message and feeds the reply back; returns the event.
    func step(_ exchange: inout DHCPClientExchange) throws -> DHCPClientExchange.Event {
        let request = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { request.deallocate(); reply.deallocate() }
        let length = try exchange.writeMessage(into: request)
        let verdict = server.respond(to: UnsafeRawBufferPointer(rebasing: request[0..<length]),
                                     context: DHCPRequestContext(localAddress: rack, destinationAddress: rack, now: 1_800_000_000),
                                     tables: tables, reply: reply)
        guard case .reply(let replyLength, let destination, _, _) = verdict else {
            Issue.record("no reply: \(verdict)")
            return .ignored
        }
        #expect(destination == .relay(relay), "a relayed request is answered to giaddr")
        let message = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: reply[0..<replyLength]))
        return exchange.receive(message)
    }

    func dora(_ firmware: Firmware, mac: MACAddress) throws -> DHCPClientLease? {
        var exchange = DHCPClientExchange(mac: mac, xid: 0xC0FFEE, firmware: firmware, hostName: "lg-000001", relayAddress: relay)
        #expect(try step(&exchange) == .offered)
        #expect(exchange.state == .requesting)
        guard case .bound(let lease) = try step(&exchange) else { return nil }
        #expect(exchange.state == .bound)
        return lease
    }
}

@Suite struct DHCPClientExchangeTests {
    @Test func eachFirmwareIsOfferedItsOwnBootFileThroughTheRelay() throws {
        let link = try ResponderLink()
        let bios = try #require(try link.dora(.bios, mac: MACAddress(0x02_00_00_00_00_01)))
        #expect(bios.bootFile == "lpxelinux.0")
        #expect(bios.address.value >> 16 == IPv4Address(198, 19, 0, 0).value >> 16, "leased from the relay's subnet")
        #expect(bios.serverIdentifier == link.rack)
        #expect(bios.nextServer == link.rack)
        #expect(bios.domainName == "maas.test")
        let uefi = try #require(try link.dora(.uefi, mac: MACAddress(0x02_00_00_00_00_02)))
        #expect(uefi.bootFile == "bootx64.efi")
        let ipxe = try #require(try link.dora(.ipxe, mac: MACAddress(0x02_00_00_00_00_03)))
        #expect(ipxe.bootFile == "http://198.18.0.1:5248/ipxe.cfg")
        #expect(Set([bios.address, uefi.address, ipxe.address]).count == 3)
    }

    @Test func theRequestCarriesTheOffersServerAndAddress() throws {
        var exchange = DHCPClientExchange(mac: MACAddress(0x02_00_00_00_00_09), xid: 7, firmware: .bios, hostName: "a", relayAddress: IPv4Address(198, 19, 0, 1))
        let link = try ResponderLink()
        _ = try link.step(&exchange)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { buffer.deallocate() }
        let length = try exchange.writeMessage(into: buffer)
        let request = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
        #expect(request.messageType == .request)
        #expect(try request.serverIdentifier() == link.rack)
        #expect(try request.requestedIPAddress() == exchange.offer?.address)
        #expect(request.giaddr == link.relay && request.hops == 1)
        #expect(request.ciaddr == .any, "RFC 2131 §4.3.2: no ciaddr in SELECTING")
        #expect(request.hostName() == "a")
    }

    @Test func aNAKStartsTheExchangeOver() throws {
        let link = try ResponderLink()
        var exchange = DHCPClientExchange(mac: MACAddress(0x02_00_00_00_00_0C), xid: 12, firmware: .bios, hostName: nil, relayAddress: link.relay)
        #expect(try link.step(&exchange) == .offered)
        // A NAK from the server (built by hand: this server would ACK).
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { buffer.deallocate() }
        var writer = DHCPMessageWriter(into: buffer)
        var chaddr = [UInt8](repeating: 0, count: 6)
        for i in 0..<6 { chaddr[i] = exchange.mac.octet(i) }
        try chaddr.withUnsafeBytes { try writer.writeHeader(op: 2, xid: 12, chaddr: $0) }
        try writer.writeMessageType(.nak, serverIdentifier: link.rack)
        try writer.writeOption(DHCPOptionCode.message, string: "address in use")
        let nak = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<(try writer.finish())]))
        #expect(exchange.receive(nak) == .refused("address in use"))
        exchange.restart()
        #expect(exchange.state == .selecting && exchange.offer == nil)
        #expect(try link.step(&exchange) == .offered)
        guard case .bound = try link.step(&exchange) else {
            Issue.record("the second round binds")
            return
        }
    }

    @Test func repliesForOtherClientsAreIgnored() throws {
        var exchange = DHCPClientExchange(mac: MACAddress(0x02_00_00_00_00_0A), xid: 99, firmware: .uefi, hostName: nil, relayAddress: nil)
        var other = DHCPClientExchange(mac: MACAddress(0x02_00_00_00_00_0B), xid: 99, firmware: .uefi, hostName: nil, relayAddress: IPv4Address(198, 19, 0, 1))
        let link = try ResponderLink()
        _ = try link.step(&other)
        // Build an OFFER for `other` and show it to `exchange`: same xid, different chaddr.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { buffer.deallocate() }
        var writer = DHCPMessageWriter(into: buffer)
        var chaddr = [UInt8](repeating: 0, count: 6)
        for i in 0..<6 { chaddr[i] = other.mac.octet(i) }
        try chaddr.withUnsafeBytes { try writer.writeHeader(op: 2, xid: 99, yiaddr: IPv4Address(198, 19, 0, 50), chaddr: $0) }
        try writer.writeMessageType(.offer, serverIdentifier: link.rack)
        let length = try writer.finish()
        let offer = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
        #expect(exchange.receive(offer) == .ignored)
        #expect(exchange.state == .selecting)
    }

    @Test func theROMsOptionsAreThere() throws {
        let exchange = DHCPClientExchange(mac: MACAddress(0x52_54_00_12_34_56), xid: 1, firmware: .ipxe, hostName: "h", relayAddress: nil, broadcastReplies: true)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { buffer.deallocate() }
        let length = try exchange.writeMessage(into: buffer)
        let m = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
        #expect(m.messageType == .discover && m.isBroadcast && m.giaddr == .any)
        #expect(m.withOption(93) { Array($0) } == [0, 0])
        #expect(m.withOption(77) { DHCPUserClass.contains("iPXE", in: $0) } == true)
        #expect(m.withOption(61) { Array($0) } == [1, 0x52, 0x54, 0, 0x12, 0x34, 0x56])
        #expect(m.withOption(60) { String(decoding: $0, as: UTF8.self) } == "PXEClient:Arch:00000:UNDI:002001")
        #expect(m.contains(175) && m.contains(94) && m.contains(97) && m.contains(57))
        let uefi = DHCPClientExchange(mac: MACAddress(1), xid: 1, firmware: .uefi, hostName: nil, relayAddress: nil)
        let n = try uefi.writeMessage(into: buffer)
        let u = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        #expect(u.withOption(93) { Array($0) } == [0, 7])
        #expect(!u.contains(77) && !u.contains(12))
    }
}

@Suite struct FirmwareMixTests {
    @Test func weightsAreKeptInEveryPrefix() throws {
        let mix = try FirmwareMix(parsing: "bios=60,uefi=30,ipxe=10")
        var counts: [Firmware: Int] = [:]
        for i in 0..<100 { counts[mix.firmware(of: i), default: 0] += 1 }
        #expect(counts == [.bios: 60, .uefi: 30, .ipxe: 10])
        var first10: [Firmware: Int] = [:]
        for i in 0..<1000 { first10[mix.firmware(of: i), default: 0] += 1 }
        #expect(first10 == [.bios: 600, .uefi: 300, .ipxe: 100])
        #expect(try FirmwareMix(parsing: "uefi=1").firmware(of: 12345) == .uefi)
    }

    @Test func badMixesAreRefusedWithAReason() {
        for text in ["", "bios", "bios=x", "arm=1", "bios=0", "bios=1,bios=2", "bios=-1"] {
            #expect(throws: FirmwareMix.ParseError.self) { try FirmwareMix(parsing: text) }
        }
    }
}
