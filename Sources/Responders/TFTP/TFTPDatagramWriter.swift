import Wire

/// Writes the packet for one `TFTPTransferAction` into a send slot.
///
/// For DATA only the 4-byte header goes into the slot; the block itself is sent from the file's
/// mapping as a second iovec — `ring.send(slot, length: header, on:, to:, appending: mapping[range])`
/// — so file bytes are never copied through the slot.
public enum TFTPDatagramWriter {
    /// A packet written into a slot: `length` bytes of it, then `fileRange` of the file (DATA).
    public struct Datagram: Equatable, Sendable {
        public var length: Int
        public var fileRange: Range<UInt64>?
    }

    /// The DATA header for wire block `block` at the start of `slot`; returns 4.
    @inlinable
    public static func writeDataHeader(block: UInt16, into slot: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        var writer = WireWriter(slot)
        try TFTPPacket.writeDataHeader(block: block, into: &writer)
        return writer.count
    }

    /// The packet `action` sends, written at the start of `slot`; nil for `.finished` and
    /// `.abort`, which send nothing.
    public static func write(_ action: TFTPTransferAction, into slot: UnsafeMutableRawBufferPointer) throws(WireError) -> Datagram? {
        var writer = WireWriter(slot)
        switch action {
        case .sendData(let block, _, _):
            try TFTPPacket.writeDataHeader(block: block, into: &writer)
            return Datagram(length: writer.count, fileRange: action.fileRange)
        case .sendOptionAcknowledgement(let options):
            try TFTPPacket.writeOptionAcknowledgement(options, into: &writer)
        case .sendError(let code, let message):
            try TFTPPacket.writeError(code, message: message, into: &writer)
        case .finished, .abort:
            return nil
        }
        return Datagram(length: writer.count, fileRange: nil)
    }
}
