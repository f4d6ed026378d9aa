/// Writers for the packets a TFTP server sends (DATA, ACK, ERROR, OACK) and the requests a test
/// client or load generator sends. Each writes at the writer's position into the caller's
/// buffer; on failure the writer is left where it was.
extension TFTPPacket {
    /// Writes the four-byte DATA header; the caller appends the payload (e.g. reads the file
    /// straight into the buffer after it).
    public static func writeDataHeader(block: UInt16, into writer: inout WireWriter) throws(WireError) {
        try writer.require(4, "tftp.data")
        try writer.writeUInt16(TFTPOpcode.data.rawValue, "tftp.opcode")
        try writer.writeUInt16(block, "tftp.data.block")
    }

    public static func writeAcknowledgement(block: UInt16, into writer: inout WireWriter) throws(WireError) {
        try writer.require(4, "tftp.ack")
        try writer.writeUInt16(TFTPOpcode.acknowledgement.rawValue, "tftp.opcode")
        try writer.writeUInt16(block, "tftp.ack.block")
    }

    public static func writeError(_ code: TFTPErrorCode, message: StaticString, into writer: inout WireWriter) throws(WireError) {
        try writeError(code, message: UnsafeRawBufferPointer(start: message.utf8Start, count: message.utf8CodeUnitCount), into: &writer)
    }

    /// Writes an ERROR packet; `message` must not contain a NUL.
    public static func writeError(_ code: TFTPErrorCode, message: UnsafeRawBufferPointer, into writer: inout WireWriter) throws(WireError) {
        if let nul = message.firstIndex(of: 0) { throw WireError(.invalidValue, "tftp.error.message", at: writer.count + 4 + nul) }
        try writer.require(4 + message.count + 1, "tftp.error")
        try writer.writeUInt16(TFTPOpcode.error.rawValue, "tftp.opcode")
        try writer.writeUInt16(code.rawValue, "tftp.error.code")
        try writer.writeBytes(message, "tftp.error.message")
        try writer.writeUInt8(0, "tftp.error.message")
    }

    /// Writes an OACK listing `options`. RFC 2347: the server "should not include in the OACK
    /// any option which had not been specifically requested" — choosing them is the caller's job.
    public static func writeOptionAcknowledgement(_ options: TFTPOptionValues, into writer: inout WireWriter) throws(WireError) {
        let start = writer.count
        do throws(WireError) {
            try writer.writeUInt16(TFTPOpcode.optionAcknowledgement.rawValue, "tftp.opcode")
            try options.write(to: &writer)
        } catch {
            writer.truncate(to: start)
            throw error
        }
    }

    /// Writes an RRQ for `filename` (any bytes but NUL, e.g. `"pxelinux.0".utf8`).
    public static func writeReadRequest(
        filename: some Collection<UInt8>, mode: TFTPMode = .octet, options: TFTPOptionValues = TFTPOptionValues(),
        into writer: inout WireWriter
    ) throws(WireError) {
        try writeRequest(.readRequest, filename: filename, mode: mode, options: options, into: &writer)
    }

    /// Writes a WRQ; the same layout as an RRQ.
    public static func writeWriteRequest(
        filename: some Collection<UInt8>, mode: TFTPMode = .octet, options: TFTPOptionValues = TFTPOptionValues(),
        into writer: inout WireWriter
    ) throws(WireError) {
        try writeRequest(.writeRequest, filename: filename, mode: mode, options: options, into: &writer)
    }

    private static func writeRequest(
        _ opcode: TFTPOpcode, filename: some Collection<UInt8>, mode: TFTPMode, options: TFTPOptionValues,
        into writer: inout WireWriter
    ) throws(WireError) {
        let start = writer.count
        do throws(WireError) {
            try writer.writeUInt16(opcode.rawValue, "tftp.opcode")
            try writer.require(filename.count + 1, "tftp.request.filename")
            for b in filename {
                guard b != 0 else { throw WireError(.invalidValue, "tftp.request.filename", at: writer.count) }
                try writer.writeUInt8(b, "tftp.request.filename")
            }
            try writer.writeUInt8(0, "tftp.request.filename")
            try writer.writeBytes(mode.name, "tftp.request.mode")
            try writer.writeUInt8(0, "tftp.request.mode")
            try options.write(to: &writer)
        } catch {
            writer.truncate(to: start)
            throw error
        }
    }
}
