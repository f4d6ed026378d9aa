import Wire

/// One TFTP read (RFC 1350, options RFC 2347/2348/2349) as a client does it, as a value-type
/// state machine: the caller sends what it is told to and keeps the retransmission timer.
///
/// The server answers from a port of its own (its transfer ID); the first reply fixes it and
/// datagrams from any other port are ignored (RFC 1350 §4 says to answer them with ERROR 5; a
/// load generator has no use for that).
public struct TFTPClientTransfer: Sendable {
    public enum Step: Sendable, Equatable {
        /// Send the `length` bytes written into the output buffer to the server's port.
        case send(length: Int)
        /// The last block arrived: send the final ACK (`length` bytes), and the transfer is done.
        case finished(length: Int)
        /// The server refused or the transfer broke; `reason` is stable enough to count by.
        case failed(reason: String, detail: String)
        /// Nothing to do (a duplicate, a stranger, a packet out of place).
        case ignored
    }

    public let filename: [UInt8]
    /// Options asked for; empty for a plain RFC 1350 request.
    public let requestOptions: TFTPOptionValues
    public private(set) var blockSize = 512
    /// tsize from the OACK, when the server sent one.
    public private(set) var announcedSize: UInt64?
    public private(set) var receivedBytes: UInt64 = 0
    public private(set) var serverPort: UInt16?
    /// The block expected next; ACK of `nextBlock &- 1` is what was last sent once data flows.
    public private(set) var nextBlock: UInt16 = 1
    public private(set) var isFinished = false
    private var acknowledged = false

    public init(filename: String, blockSize: UInt16?, askSize: Bool) {
        self.filename = Array(filename.utf8)
        requestOptions = TFTPOptionValues(blockSize: blockSize, transferSize: askSize ? 0 : nil)
    }

    /// Writes the RRQ.
    public func writeRequest(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        var writer = WireWriter(buffer)
        try TFTPPacket.writeReadRequest(filename: filename, options: requestOptions, into: &writer)
        return writer.count
    }

    /// What to send again when the timer fires: the RRQ until the server answers, then the
    /// last ACK (RFC 1350 §2: "If a packet gets lost ... the sender of the lost packet retransmits").
    public func writeRetransmission(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard acknowledged else { return try writeRequest(into: buffer) }
        return try writeAcknowledgement(nextBlock &- 1, into: buffer)
    }

    /// Whether the server has answered yet (so retransmissions go to its transfer port).
    public var hasServerPort: Bool { serverPort != nil }

    private func writeAcknowledgement(_ block: UInt16, into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        var writer = WireWriter(buffer)
        try TFTPPacket.writeAcknowledgement(block: block, into: &writer)
        return writer.count
    }

    /// Reads a datagram from `port`; writes any reply into `output`.
    public mutating func receive(_ bytes: UnsafeRawBufferPointer, fromPort port: UInt16, output: UnsafeMutableRawBufferPointer) -> Step {
        guard !isFinished else { return .ignored }
        if let serverPort, serverPort != port { return .ignored }
        let packet: TFTPPacket
        do {
            packet = try TFTPPacket.parse(bytes)
        } catch {
            return .failed(reason: "malformed", detail: "\(error)")
        }
        switch packet {
        case .error(let message):
            isFinished = true
            let code = message.knownCode.map { "\($0)" } ?? "\(message.code)"
            return .failed(reason: "error \(message.code)", detail: "\(code): \(String(decoding: message.message, as: UTF8.self))")
        case .optionAcknowledgement(let options):
            // RFC 2347: an OACK answers the request only; one after data has flowed is out of place.
            guard !acknowledged, !requestOptions.isEmpty else { return .ignored }
            serverPort = port
            do {
                let values = try options.values()
                if let size = values.blockSize {
                    // RFC 2348: the server may only lower the block size.
                    guard let asked = requestOptions.blockSize, size <= asked else {
                        isFinished = true
                        return .failed(reason: "bad oack", detail: "blksize \(size) was not asked for")
                    }
                    blockSize = Int(size)
                }
                announcedSize = values.transferSize
            } catch {
                isFinished = true
                return .failed(reason: "bad oack", detail: "\(error)")
            }
            acknowledged = true
            nextBlock = 1
            return (try? writeAcknowledgement(0, into: output)).map { .send(length: $0) } ?? .ignored
        case .data(let data):
            if serverPort == nil {
                // RFC 2347: a server that ignores the options starts with DATA 1 at 512 bytes.
                serverPort = port
                blockSize = 512
            }
            acknowledged = true
            if data.block == nextBlock {
                let payload = data.payload.count
                guard payload <= blockSize else {
                    isFinished = true
                    return .failed(reason: "malformed", detail: "block \(data.block) holds \(payload) bytes, more than blksize \(blockSize)")
                }
                receivedBytes += UInt64(payload)
                nextBlock &+= 1
                guard let length = try? writeAcknowledgement(data.block, into: output) else { return .ignored }
                if payload < blockSize {
                    isFinished = true
                    if let announcedSize, announcedSize != receivedBytes {
                        return .failed(reason: "size mismatch", detail: "tsize \(announcedSize), received \(receivedBytes)")
                    }
                    return .finished(length: length)
                }
                return .send(length: length)
            }
            if data.block == nextBlock &- 1 {
                // Our ACK was lost: the server sent the block again. Acknowledge it again (the
                // server, not the client, must avoid the Sorcerer's Apprentice).
                return (try? writeAcknowledgement(data.block, into: output)).map { .send(length: $0) } ?? .ignored
            }
            return .ignored
        case .acknowledgement, .readRequest, .writeRequest:
            return .ignored
        }
    }
}
