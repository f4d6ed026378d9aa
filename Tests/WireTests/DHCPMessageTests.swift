import Testing
@testable import Wire

/// A BOOTREQUEST with a fixed header (xid 0x01020304, chaddr 52:54:00:00:00:01) and the given
/// bytes after the magic cookie; `sname`/`file` fill those fields.
func dhcpRequest(options: [UInt8], sname: [UInt8] = [], file: [UInt8] = []) -> [UInt8] {
    var m = [UInt8](repeating: 0, count: 240)
    m[0] = 1; m[1] = 1; m[2] = 6
    m[4] = 1; m[5] = 2; m[6] = 3; m[7] = 4
    m.replaceSubrange(28..<34, with: [0x52, 0x54, 0, 0, 0, 1])
    m.replaceSubrange(44..<44 + sname.count, with: sname)
    m.replaceSubrange(108..<108 + file.count, with: file)
    m.replaceSubrange(236..<240, with: [99, 130, 83, 99])
    return m + options
}

func parse(_ bytes: [UInt8]) throws(WireError) -> DHCPMessage {
    // Tests keep the array alive in a global-free way: copy into a buffer that lives as long as
    // the process (a few hundred bytes per test).
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
    buffer.copyBytes(from: bytes)
    return try DHCPMessage(parsing: UnsafeRawBufferPointer(buffer))
}

func expectWireError(_ reason: WireError.Reason, _ field: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected \(reason.name) \(field), parsed", sourceLocation: sourceLocation)
    } catch let error as WireError {
        #expect(error.reason == reason, sourceLocation: sourceLocation)
        #expect(error.field.description == field, sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct DHCPMessageTests {
    @Test func iPXEDiscoverFromRealBoot() throws {
        let discover = try #require(try Corpus.dhcpPayloads("pxe/ipxe-boot.pcap").first { $0.frame == 8 })
        let m = try parse(discover.payload)
        #expect(m.op == 1)
        #expect(m.messageType == .discover)
        #expect(m.clientMAC == MACAddress("52:54:00:18:00:01"))
        #expect(try m.maximumMessageSize() == 1472)
        #expect(try m.clientSystemArchitectures() == [0])
        #expect(try m.clientSystemArchitecture() == 0)
        let ndi = try #require(try m.clientNetworkInterface())
        #expect(ndi.type == 1 && ndi.major == 2 && ndi.minor == 1)
        #expect(m.vendorClassIdentifier() == "PXEClient:Arch:00000:UNDI:002001")
        #expect(m.vendorClassHasPrefix("PXEClient"))
        #expect(!m.vendorClassHasPrefix("HTTPClient"))
        #expect(m.userClass() == .bare(Array("iPXE".utf8)))
        #expect(m.userClassContains("iPXE"))
        let machine = try #require(try m.clientMachineIdentifier())
        #expect(machine.type == 0 && machine.identifier.count == 16)
        #expect(try m.ipxeEncapsulatedOptions()?.isEmpty == false)
        #expect(m.contains(DHCPOptionCode.parameterRequestList))
        #expect(!m.contains(DHCPOptionCode.leaseTime))
        let codes = m.options.map(\.code)
        #expect(codes.first == 53)
        for code: UInt8 in [57, 93, 94, 60, 77, 55, 61, 97, 175] { #expect(codes.contains(code)) }
    }

    @Test func offerFromRealBootCarriesServerAndLease() throws {
        let offer = try #require(try Corpus.dhcpPayloads("pxe/ipxe-boot.pcap").first { $0.frame == 18 })
        let m = try parse(offer.payload)
        #expect(m.op == 2)
        #expect(m.messageType == .offer)
        #expect(try m.serverIdentifier() != nil)
        #expect(try m.leaseTime() != nil)
        #expect(!m.yiaddr.isUnspecified)
    }

    @Test func userClassInRFC3004Form() throws {
        let datagrams = try Corpus.dhcpPayloads("tcpdump/dhcp-rfc3004.pcap")
        let m = try parse(datagrams[0].payload)
        guard case .rfc3004(let classes) = try #require(m.userClass()) else {
            Issue.record("expected the RFC 3004 list form")
            return
        }
        #expect(!classes.isEmpty)
        #expect(classes.allSatisfy { !$0.isEmpty })
    }

    /// Every DHCP message of the real captures parses, and parse → encode → parse gives the same
    /// header and the same options (joined values, first-instance order).
    @Test(arguments: Corpus.dhcpCaptures)
    func corpusRoundTrip(file: String) throws {
        let datagrams = try Corpus.dhcpPayloads(file)
        #expect(!datagrams.isEmpty)
        for datagram in datagrams {
            if let reason = Corpus.knownMalformed[file + "#\(datagram.frame)"] {
                #expect(throws: WireError.self, "\(reason)") { _ = try parse(datagram.payload) }
                continue
            }
            let m = try parse(datagram.payload)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 8)
            defer { buffer.deallocate() }
            let length = try DHCPMessageWriter.reencode(m, into: buffer)
            let again = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
            #expect(summary(again) == summary(m), "frame \(datagram.frame) of \(file)")
        }
    }

    @Test(arguments: Corpus.malformedDHCPCaptures)
    func malformedCapturesAreRefusedNotCrashed(file: String) throws {
        for datagram in try Corpus.dhcpPayloads(file) {
            #expect(throws: WireError.self) { _ = try parse(datagram.payload) }
        }
    }

    @Test func truncatedHeader() {
        let full = dhcpRequest(options: [53, 1, 1, 255])
        expectWireError(.truncated, "dhcp.header") { _ = try parse(Array(full[0..<235])) }
        expectWireError(.truncated, "dhcp.magic_cookie") { _ = try parse(Array(full[0..<239])) }
        var noCookie = full
        noCookie[239] = 0
        expectWireError(.invalidValue, "dhcp.magic_cookie") { _ = try parse(noCookie) }
        var badOp = full
        badOp[0] = 3
        expectWireError(.invalidValue, "dhcp.op") { _ = try parse(badOp) }
        var longHlen = full
        longHlen[2] = 17
        expectWireError(.invalidValue, "dhcp.hlen") { _ = try parse(longHlen) }
    }

    @Test func optionEdges() throws {
        // The last byte that fits: a value ending exactly at the end of the datagram, no End.
        let exact = try parse(dhcpRequest(options: [53, 1, 1, 12, 3, 0x61, 0x62, 0x63]))
        #expect(exact.hostName() == "abc")
        // The first that doesn't: one byte short.
        expectWireError(.invalidLength, "dhcp.option.value") { _ = try parse(dhcpRequest(options: [53, 1, 1, 12, 4, 0x61, 0x62, 0x63])) }
        // A code with no length byte.
        expectWireError(.truncated, "dhcp.option.length") { _ = try parse(dhcpRequest(options: [53, 1, 1, 12])) }
        // Zero-length option; padding; bytes after End are ignored.
        let zero = try parse(dhcpRequest(options: [0, 0, 53, 1, 3, 12, 0, 255, 12, 200]))
        #expect(zero.hostName() == "")
        #expect(zero.messageType == .request)
        #expect(zero.options.map(\.code) == [53, 12])
        // Message type must be one byte.
        expectWireError(.invalidLength, "dhcp.option.message_type") { _ = try parse(dhcpRequest(options: [53, 2, 1, 1])) }
        // A fixed-size option of the wrong length parses structurally, fails on access.
        let bad50 = try parse(dhcpRequest(options: [53, 1, 1, 50, 3, 1, 2, 3, 255]))
        #expect(throws: WireError.self) { _ = try bad50.requestedIPAddress() }
        // Unknown message types are kept raw.
        let unknown = try parse(dhcpRequest(options: [53, 1, 200, 255]))
        #expect(unknown.rawMessageType == 200 && unknown.messageType == nil)
    }

    /// Found by FuzzDHCPRoundTrip: two one-byte option 53s were accepted, but RFC 3396 joins
    /// them into a two-byte message type, which the re-encoded message then refused.
    @Test func repeatedMessageTypeIsRejected() {
        expectWireError(.invalidLength, "dhcp.option.message_type") { _ = try parse(dhcpRequest(options: [53, 1, 1, 53, 1, 3, 255])) }
        expectWireError(.invalidValue, "dhcp.option.overload") { _ = try parse(dhcpRequest(options: [52, 1, 1, 52, 1, 1, 255])) }
    }

    @Test func overloadOpensFileThenSname() throws {
        // RFC 3396 §5: options field, then file, then sname.
        let file: [UInt8] = [67, 4, 0x61, 0x2E, 0x65, 0x66, 255]
        let sname: [UInt8] = [66, 2, 0x68, 0x69, 255]
        let m = try parse(dhcpRequest(options: [53, 1, 2, 52, 1, 3, 255], sname: sname, file: file))
        #expect(m.overload == 3)
        #expect(m.file == nil && m.sname == nil)
        #expect(m.options.map(\.code) == [53, 52, 67, 66])
        #expect(m.bootfileName() == "a.ef")
        #expect(m.tftpServerName() == "hi")
        // Option 52 inside file is not honoured there: no loop, sname stays a plain field.
        let nested = try parse(dhcpRequest(options: [52, 1, 1, 255], sname: Array("name".utf8), file: [52, 1, 2, 255]))
        #expect(nested.overload == 1)
        #expect(nested.sname != nil)
        // A bad overload value, and a length past the end of the file field.
        expectWireError(.invalidValue, "dhcp.option.overload") { _ = try parse(dhcpRequest(options: [52, 1, 4, 255])) }
        var spill = [UInt8](repeating: 0, count: 128)
        spill[126] = 12; spill[127] = 5
        expectWireError(.invalidLength, "dhcp.option.value") { _ = try parse(dhcpRequest(options: [52, 1, 1, 255], file: spill)) }
    }

    @Test func splitOptionsAreJoined() throws {
        // RFC 3396 §7: instances of the same code are concatenated in order.
        let routes: [UInt8] = [24, 198, 18, 1, 198, 18, 0, 1, 0, 198, 18, 0, 254]
        let m = try parse(dhcpRequest(options: [53, 1, 1, 121, 6] + routes[0..<6] + [12, 1, 0x78, 121, 7] + routes[6...] + [255]))
        #expect(m.hasRepeatedOptions)
        let list = try #require(try m.classlessStaticRoutes())
        #expect(list == [
            DHCPClasslessRoute(destination: IPv4Address(198, 18, 1, 0), prefixLength: 24, router: IPv4Address(198, 18, 0, 1)),
            DHCPClasslessRoute(destination: .any, prefixLength: 0, router: IPv4Address(198, 18, 0, 254)),
        ])
        #expect(m.hostName() == "x")
    }

    @Test func relayAgentInformationAndFQDN() throws {
        let relay: [UInt8] = [1, 3, 0x65, 0x74, 0x30, 2, 2, 0xAB, 0xCD, 5, 4, 198, 18, 7, 0, 151, 1, 0]
        let fqdn: [UInt8] = [0x05, 0, 0, 4, 0x6E, 0x6F, 0x64, 0x65, 4, 0x6D, 0x61, 0x61, 0x73, 0]
        let m = try parse(dhcpRequest(options: [53, 1, 1, 82, UInt8(relay.count)] + relay + [81, UInt8(fqdn.count)] + fqdn + [255]))
        let info = try #require(try m.relayAgentInformation())
        #expect(info.circuitID == Array("et0".utf8))
        #expect(info.remoteID == [0xAB, 0xCD])
        #expect(info.linkSelection == IPv4Address(198, 18, 7, 0))
        #expect(info.virtualSubnetSelection == [0])
        let name = try #require(try m.clientFQDN())
        #expect(name.name == "node.maas")
        #expect(name.flags & DHCPClientFQDN.flagS != 0)
        // A sub-option running past the option is an error on access.
        let broken = try parse(dhcpRequest(options: [53, 1, 1, 82, 3, 1, 5, 0x65, 255]))
        #expect(throws: WireError.self) { _ = try broken.relayAgentInformation() }
    }

    @Test func writerOrdersSplitsAndPads() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { buffer.deallocate() }
        var w = DHCPMessageWriter(into: buffer)
        let mac: [UInt8] = [0x52, 0x54, 0, 0, 0, 1]
        try mac.withUnsafeBytes { (chaddr) in
            try w.writeHeader(op: 2, xid: 0xDEADBEEF, flags: DHCPLayout.broadcastFlag, yiaddr: IPv4Address(198, 18, 0, 100),
                              siaddr: IPv4Address(198, 18, 0, 1), chaddr: chaddr)
        }
        try w.writeMessageType(.offer, serverIdentifier: IPv4Address(198, 18, 0, 1))
        try w.writeOption(DHCPOptionCode.leaseTime, uint32: 600)
        let long = [UInt8](repeating: 0x41, count: 300)
        try long.withUnsafeBytes { (value) in try w.writeOption(DHCPOptionCode.vendorSpecific, value) }
        let length = try w.finish()
        let m = try DHCPMessage(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
        #expect(m.options.map(\.code) == [53, 54, 51, 43, 43])
        #expect(m.vendorSpecific() == long)
        #expect(m.isBroadcast && m.xid == 0xDEADBEEF)
        #expect(m.clientMAC == MACAddress("52:54:00:00:00:01"))

        var small = DHCPMessageWriter(into: buffer)
        try mac.withUnsafeBytes { (chaddr) in try small.writeHeader(op: 2, xid: 1, chaddr: chaddr) }
        try small.writeMessageType(.ack, serverIdentifier: nil)
        #expect(try small.finish() == DHCPLayout.bootpMinimumLength)
    }

    @Test func writerHonoursMaximumMessageSize() throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)
        defer { buffer.deallocate() }
        // 576 is the floor whatever the client says; minus 28 for IP and UDP headers.
        var w = DHCPMessageWriter(into: buffer, maximumMessageSize: 300)
        #expect(w.writer.limit == 548)
        let mac: [UInt8] = [0x52, 0x54, 0, 0, 0, 1]
        try mac.withUnsafeBytes { (chaddr) in try w.writeHeader(op: 2, xid: 1, chaddr: chaddr) }
        let big = [UInt8](repeating: 1, count: 255)
        try big.withUnsafeBytes { (value) in try w.writeOption(43, value) }
        // 240 + 257 used; 51 left, one kept for End: a 49-byte value fits, 50 does not.
        #expect(w.remainingForOptions == 50)
        let tooBig = [UInt8](repeating: 1, count: 49)
        #expect(throws: WireError.self) {
            try tooBig.withUnsafeBytes { (value) in try w.writeOption(44, value) }
        }
        let fits = [UInt8](repeating: 1, count: 48)
        try fits.withUnsafeBytes { (value) in try w.writeOption(44, value) }
        #expect(try w.finish() == 548)
    }
}

/// What the round-trip property compares: header fields and (code, joined value) in order.
func summary(_ m: DHCPMessage) -> String {
    var s = "\(m.op) \(m.htype) \(m.hlen) \(m.hops) \(m.xid) \(m.secs) \(m.flags) \(m.ciaddr) \(m.yiaddr) \(m.siaddr) \(m.giaddr) "
    s += hexString(UnsafeRawBufferPointer(rebasing: m.bytes[28..<44]))
    s += " sname=" + (m.overload & 2 == 0 ? hexString(m.sname!) : "-")
    s += " file=" + (m.overload & 1 == 0 ? hexString(m.file!) : "-")
    var seen = Set<UInt8>()
    for option in m.options where option.code != DHCPOptionCode.optionOverload && seen.insert(option.code).inserted {
        s += " \(option.code):" + (m.withOption(option.code) { hexString($0) } ?? "")
    }
    return s
}
