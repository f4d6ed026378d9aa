import Wire

/// Adds the `pcap decode` fields of one DHCP message to `line`. A structural error adds `error`
/// and the fixed header fields that could be read; a malformed option adds `error` and skips
/// that option's field, keeping the rest.
func decodeDHCP(_ payload: UnsafeRawBufferPointer, into line: inout JSONLine) {
    let message: DHCPMessage
    do {
        message = try DHCPMessage(parsing: payload)
    } catch {
        line.add("error", error.description)
        if payload.count >= DHCPLayout.magicCookie { addHeader(payload, into: &line) }
        return
    }
    addHeader(payload, into: &line)
    if let sname = message.sname { line.add("sname", printableString(sname)) }
    if let file = message.file { line.add("file", printableString(file)) }
    if let type = message.rawMessageType { line.add("msg_type", Int(type)) }
    line.add("options", ints: message.options.map { Int($0.code) })

    var firstError: WireError?
    func attempt<T>(_ read: () throws(WireError) -> T?) -> T? {
        do { return try read() } catch {
            if firstError == nil { firstError = error }
            return nil
        }
    }
    if let list = message.parameterRequestList() { line.add("param_list", ints: list.map(Int.init)) }
    if let vendor = message.withOption(DHCPOptionCode.vendorClassIdentifier, { printableString($0, stopAtNUL: false) }) {
        line.add("vendor_class", vendor)
    }
    if let userClass = message.userClass() {
        line.add("user_class", strings: userClass.classes.map { $0.withUnsafeBytes { printableString($0, stopAtNUL: false) } })
    }
    if let architectures = attempt(message.clientSystemArchitectures) { line.add("client_arch", ints: architectures.map(Int.init)) }
    if let requested = attempt(message.requestedIPAddress) { line.add("requested_ip", requested.description) }
    if let server = attempt(message.serverIdentifier) { line.add("server_id", server.description) }
    if let lease = attempt(message.leaseTime) { line.add("lease_time", Int(lease)) }
    if let host = message.withOption(DHCPOptionCode.hostName, { printableString($0, stopAtNUL: false) }) { line.add("hostname", host) }
    if let relay = attempt(message.relayAgentInformation) {
        if let circuit = relay.circuitID { line.add("relay_circuit_id", hexString(circuit)) }
        if let remote = relay.remoteID { line.add("relay_remote_id", hexString(remote)) }
    }
    if let firstError { line.add("error", firstError.description) }
}

private func addHeader(_ bytes: UnsafeRawBufferPointer, into line: inout JSONLine) {
    line.add("op", Int(bytes[DHCPLayout.op]))
    let xid = bytes.uint32(at: DHCPLayout.xid)
    let hex = String(xid, radix: 16)
    line.add("xid", "0x" + String(repeating: "0", count: 8 - hex.count) + hex)
    let hlen = min(Int(bytes[DHCPLayout.hlen]), DHCPLayout.chaddrLength)
    let chaddr = UnsafeRawBufferPointer(rebasing: bytes[DHCPLayout.chaddr..<DHCPLayout.chaddr + hlen])
    line.add("chaddr", hexString(chaddr, separator: ":"))
    line.add("ciaddr", IPv4Address(bytes: bytes, at: DHCPLayout.ciaddr).description)
    line.add("yiaddr", IPv4Address(bytes: bytes, at: DHCPLayout.yiaddr).description)
    line.add("siaddr", IPv4Address(bytes: bytes, at: DHCPLayout.siaddr).description)
    line.add("giaddr", IPv4Address(bytes: bytes, at: DHCPLayout.giaddr).description)
    line.add("flags", Int(bytes.uint16(at: DHCPLayout.flags)))
}
