import Testing
@testable import Fleet
import Wire

/// `<repo>/../shared/corpus`, found from this file's path.
let corpusRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/") + "/../shared/corpus"
}()

@Suite struct CaptureRequestsTests {
    @Test func theIPXEBootsClientSideIsDHCPThenTFTPThenHTTP() throws {
        let capture = try CaptureRequests(path: corpusRoot + "/pxe/ipxe-boot.pcap")
        let kinds = capture.requests.map(\.proto)
        #expect(kinds.first == .dhcp)
        #expect(kinds.filter { $0 == .dhcp }.count == 3, "two DISCOVERs (one a retransmission) and a REQUEST")
        #expect(capture.requests.contains { $0.summary == "TFTP RRQ boot.ipxe" })
        #expect(capture.requests.contains { $0.summary == "HTTP GET /vmlinuz" })
        #expect(capture.requests.allSatisfy { $0.proto != .dhcp || $0.clientMAC == MACAddress("52:54:00:18:00:01") })
        #expect(kinds.firstIndex(of: .tftp)! > kinds.lastIndex(of: .dhcp)!)
    }

    @Test func thePXELinuxBootProbesItsConfigFiles() throws {
        let capture = try CaptureRequests(path: corpusRoot + "/pxe/pxelinux-boot.pcap")
        let files = capture.requests.filter { $0.proto == .tftp }.map(\.summary)
        #expect(files.first == "TFTP RRQ pxelinux.0")
        #expect(files.contains("TFTP RRQ pxelinux.cfg/01-52-54-00-18-00-01"))
    }
}

@Suite struct DHCPReplayRewriteTests {
    @Test func aCapturedRequestBecomesANewRelayedClient() throws {
        let capture = try CaptureRequests(path: corpusRoot + "/pxe/ipxe-boot.pcap")
        let request = try #require(capture.requests.first { $0.summary.hasPrefix("DHCP REQUEST") })
        let original = MACAddress("52:54:00:18:00:01")!
        let mac = MACAddress(0x02_10_00_00_00_05)
        let rewrite = DHCPReplayRewrite(originalMAC: original, mac: mac, xid: 0xABCD0123, relayAddress: IPv4Address(198, 19, 0, 1),
                                        serverIdentifier: IPv4Address(198, 18, 0, 1), address: IPv4Address(198, 19, 0, 44))
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { out.deallocate() }
        let length = try request.bytes.withUnsafeBytes { try rewrite.write(DHCPMessage(parsing: $0), into: out) }
        let m = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: out[0..<length]))
        let before = try request.bytes.withUnsafeBytes { raw in try DHCPMessage(parsing: raw).options.map(\.code) }
        #expect(m.messageType == .request)
        #expect(m.xid == 0xABCD0123 && m.clientMAC == mac)
        #expect(m.giaddr == IPv4Address(198, 19, 0, 1) && m.hops == 1)
        #expect(try m.serverIdentifier() == IPv4Address(198, 18, 0, 1))
        #expect(try m.requestedIPAddress() == IPv4Address(198, 19, 0, 44))
        #expect(m.withOption(61) { Array($0) } == [1, 2, 0x10, 0, 0, 0, 5])
        #expect(m.options.map(\.code) == before, "the ROM's options, in its order")
        #expect(m.withOption(77) { DHCPUserClass.contains("iPXE", in: $0) } == true)

        // Before this server has offered anything, 50 and 54 are left out.
        let fresh = DHCPReplayRewrite(originalMAC: original, mac: mac, xid: 1, relayAddress: IPv4Address(198, 19, 0, 1))
        let n = try request.bytes.withUnsafeBytes { try fresh.write(DHCPMessage(parsing: $0), into: out) }
        let bare = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: out[0..<n]))
        #expect(!bare.contains(50) && !bare.contains(54))
    }

    @Test func macsInBootPathsAreRemappedInEitherSpelling() {
        let rewrite = DHCPReplayRewrite(originalMAC: MACAddress("52:54:00:18:00:01")!, mac: MACAddress(0x02_10_00_00_00_05), xid: 0, relayAddress: .any)
        #expect(rewrite.remapMAC(in: "pxelinux.cfg/01-52-54-00-18-00-01") == "pxelinux.cfg/01-02-10-00-00-00-05")
        #expect(rewrite.remapMAC(in: "/ipxe.cfg-52:54:00:18:00:01") == "/ipxe.cfg-02:10:00:00:00:05")
        #expect(rewrite.remapMAC(in: "GET /x HTTP/1.1") == "GET /x HTTP/1.1")
    }
}
