import Wire

/// Adds the `pcap decode` fields of one TFTP datagram to `line`: `opcode`, then as the opcode
/// has them `filename`, `mode`, `options`, `block`, `error_code`, `error_msg`, `data_len`. A
/// packet that does not parse gets `error` and whatever fields lie before the fault.
func decodeTFTP(_ payload: UnsafeRawBufferPointer, into line: inout JSONLine) {
    let packet: TFTPPacket
    do {
        packet = try TFTPPacket.parse(payload)
    } catch {
        addReadable(payload, into: &line)
        line.add("error", error.description)
        return
    }
    line.add("opcode", Int(packet.opcode.rawValue))
    switch packet {
    case .readRequest(let request), .writeRequest(let request):
        line.add("filename", printableString(request.filename))
        line.add("mode", printableString(request.modeBytes))
        if !request.options.isEmpty { line.add("options", object: object(request.options)) }
    case .data(let data):
        line.add("block", Int(data.block))
        line.add("data_len", data.payload.count)
    case .acknowledgement(let block):
        line.add("block", Int(block))
    case .error(let error):
        line.add("error_code", Int(error.code))
        line.add("error_msg", printableString(error.message))
    case .optionAcknowledgement(let options):
        line.add("options", object: object(options))
    }
}

private func object(_ options: TFTPOptions) -> JSONLine {
    var object = JSONLine()
    for option in options { object.add(printableString(option.name), printableString(option.value)) }
    return object
}

/// What can be read of a packet that failed to parse: the opcode, a request's filename and
/// mode if NUL-terminated, a block number or error code.
private func addReadable(_ payload: UnsafeRawBufferPointer, into line: inout JSONLine) {
    guard payload.count >= 2 else { return }
    let opcode = payload.uint16(at: 0)
    line.add("opcode", Int(opcode))
    func string(from start: Int) -> (text: String, next: Int)? {
        guard start < payload.count, let nul = payload[start...].firstIndex(of: 0) else { return nil }
        return (printableString(UnsafeRawBufferPointer(rebasing: payload[start..<nul])), nul + 1)
    }
    switch TFTPOpcode(rawValue: opcode) {
    case .readRequest?, .writeRequest?:
        guard let filename = string(from: 2) else { return }
        line.add("filename", filename.text)
        if let mode = string(from: filename.next) { line.add("mode", mode.text) }
    case .data?, .acknowledgement?:
        if payload.count >= 4 { line.add("block", Int(payload.uint16(at: 2))) }
    case .error?:
        if payload.count >= 4 { line.add("error_code", Int(payload.uint16(at: 2))) }
    default:
        break
    }
}
