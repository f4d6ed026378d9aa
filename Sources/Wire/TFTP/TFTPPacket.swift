/// A parsed TFTP packet: a view into the caller's datagram, which must outlive it.
///
/// `parse` checks the whole packet once — opcode, lengths, and that every string (filename,
/// mode, option names and values, error message) ends in a NUL inside the datagram — so the
/// views and iterators it returns cannot fail afterwards. It never allocates.
public enum TFTPPacket {
    case readRequest(TFTPRequest)
    case writeRequest(TFTPRequest)
    case data(TFTPData)
    /// ACK of `block`; block 0 acknowledges a WRQ or an OACK (RFC 1350 §6, RFC 2347).
    case acknowledgement(block: UInt16)
    case error(TFTPErrorMessage)
    /// OACK (RFC 2347): the options the server accepted.
    case optionAcknowledgement(TFTPOptions)

    public var opcode: TFTPOpcode {
        switch self {
        case .readRequest: .readRequest
        case .writeRequest: .writeRequest
        case .data: .data
        case .acknowledgement: .acknowledgement
        case .error: .error
        case .optionAcknowledgement: .optionAcknowledgement
        }
    }

    /// Parses one TFTP datagram (the UDP payload).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> TFTPPacket {
        var reader = WireReader(bytes)
        let raw = try reader.readUInt16("tftp.opcode")
        guard let opcode = TFTPOpcode(rawValue: raw) else { throw WireError(.invalidValue, "tftp.opcode", at: 0) }
        switch opcode {
        case .readRequest:
            return .readRequest(try TFTPRequest(bytes, opcode: .readRequest))
        case .writeRequest:
            return .writeRequest(try TFTPRequest(bytes, opcode: .writeRequest))
        case .data:
            let block = try reader.readUInt16("tftp.data.block")
            return .data(TFTPData(bytes: bytes, block: block))
        case .acknowledgement:
            let block = try reader.readUInt16("tftp.ack.block")
            // RFC 1350 Figure 5-3: an ACK is exactly opcode and block.
            guard reader.isAtEnd else { throw WireError(.invalidLength, "tftp.ack", at: reader.offset) }
            return .acknowledgement(block: block)
        case .error:
            let code = try reader.readUInt16("tftp.error.code")
            let end = try terminator(bytes, from: 4, "tftp.error.message")
            guard end + 1 == bytes.count else { throw WireError(.invalidLength, "tftp.error", at: end + 1) }
            return .error(TFTPErrorMessage(bytes: bytes, code: code, messageRange: 4..<end))
        case .optionAcknowledgement:
            return .optionAcknowledgement(try TFTPOptions.validated(bytes, from: 2))
        }
    }

    /// Offset of the NUL ending the string that starts at `start`; throws `.truncated` naming
    /// `field` at `start` if the datagram ends first.
    @inlinable
    static func terminator(_ bytes: UnsafeRawBufferPointer, from start: Int, _ field: StaticString) throws(WireError) -> Int {
        var i = start
        while i < bytes.count {
            if bytes[i] == 0 { return i }
            i += 1
        }
        throw WireError(.truncated, field, at: start)
    }
}

/// An RRQ or WRQ: `opcode filename NUL mode NUL [option NUL value NUL]*` (RFC 1350 §5,
/// RFC 2347).
public struct TFTPRequest {
    public let bytes: UnsafeRawBufferPointer
    public let opcode: TFTPOpcode
    public let filenameRange: Range<Int>
    /// The mode as sent (any case).
    public let modeRange: Range<Int>
    public let mode: TFTPMode
    public let options: TFTPOptions

    init(_ bytes: UnsafeRawBufferPointer, opcode: TFTPOpcode) throws(WireError) {
        let read = opcode == .readRequest
        let filenameEnd = try TFTPPacket.terminator(bytes, from: 2, read ? "tftp.rrq.filename" : "tftp.wrq.filename")
        let modeStart = filenameEnd + 1
        let modeEnd = try TFTPPacket.terminator(bytes, from: modeStart, read ? "tftp.rrq.mode" : "tftp.wrq.mode")
        guard let mode = TFTPMode(bytes: UnsafeRawBufferPointer(rebasing: bytes[modeStart..<modeEnd])) else {
            throw WireError(.invalidValue, read ? "tftp.rrq.mode" : "tftp.wrq.mode", at: modeStart)
        }
        self.bytes = bytes
        self.opcode = opcode
        self.filenameRange = 2..<filenameEnd
        self.modeRange = modeStart..<modeEnd
        self.mode = mode
        self.options = try TFTPOptions.validated(bytes, from: modeEnd + 1)
    }

    /// The filename without its NUL. May be empty or hold any byte but NUL; what is an
    /// acceptable path is the responder's decision, not the codec's.
    @inlinable public var filename: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[filenameRange]) }
    @inlinable public var modeBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[modeRange]) }
}

/// A DATA packet: `opcode block payload` (RFC 1350 §5).
public struct TFTPData {
    public let bytes: UnsafeRawBufferPointer
    /// The block number. Not checked against 0: after 65535 blocks many clients and servers
    /// wrap to 0 (or 1), and only the transfer state knows which block is expected.
    public let block: UInt16

    /// The payload: 0 to block-size bytes; a payload shorter than the block size ends the
    /// transfer (RFC 1350 §6).
    @inlinable public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[4...]) }
}

/// An ERROR packet: `opcode code message NUL` (RFC 1350 §5).
public struct TFTPErrorMessage {
    public let bytes: UnsafeRawBufferPointer
    /// The code as sent; values above 8 are not errors to parse, only unknown.
    public let code: UInt16
    public let messageRange: Range<Int>

    @inlinable public var knownCode: TFTPErrorCode? { TFTPErrorCode(rawValue: code) }
    @inlinable public var message: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[messageRange]) }
}
