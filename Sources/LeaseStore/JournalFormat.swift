/// The on-disk layout of `leases.journal`. All integers little-endian.
///
/// File header, 32 bytes:
///
///     0  magic "RPLEASES"          8 bytes
///     8  version                   u32 (1)
///    12  flags                     u32 (0, reserved)
///    16  base sequence             u64: every record appended to this file gets a sequence
///                                  ≥ this; compaction writes the journal's next sequence here,
///                                  so sequences never repeat even if every record is dropped
///    24  header CRC-32C            u32 over bytes 0..<24
///    28  reserved                  u32 (0)
///
/// Then records, each framed:
///
///     0  payload length            u32, 29...539
///     4  CRC-32C                   u32 over the 4 length bytes, then the payload
///     8  payload:
///          0 sequence              u64
///          8 expiresAt             u64, Unix seconds
///         16 address               u32, the IPv4 address's host-order value
///         20 mac                   6 bytes (the low 48 bits, little-endian)
///         26 state                 u8: 1 bound, 2 released, 3 declined, 4 expired
///         27 client ID length      u8
///         28 host name length      u8
///         29 client ID, then host name
///
/// The CRC covers the length so a damaged length is caught as surely as a damaged payload.
enum JournalFormat {
    static let magic: [UInt8] = Array("RPLEASES".utf8)
    static let version: UInt32 = 1
    static let headerSize = 32
    static let frameHeaderSize = 8
    static let fixedPayloadSize = 29
    static let maximumPayloadSize = fixedPayloadSize + 255 + 255

    /// Bytes one record takes in the file.
    @inline(__always)
    static func frameSize(_ record: LeaseRecord) -> Int {
        frameHeaderSize + fixedPayloadSize + record.clientID.count + record.hostname.count
    }

    // MARK: Header

    static func encodeHeader(baseSequence: UInt64, into buffer: inout ByteBuffer) {
        let p = buffer.reserve(headerSize)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: headerSize)
        magic.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: 8) }
        p.storeBytes(of: version.littleEndian, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: baseSequence.littleEndian, toByteOffset: 16, as: UInt64.self)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 24))
        p.storeBytes(of: crc.littleEndian, toByteOffset: 24, as: UInt32.self)
        buffer.commit(headerSize)
    }

    enum HeaderProblem: Error { case short, notAJournal, unsupportedVersion(UInt32), badChecksum }

    /// The base sequence of a valid header.
    static func decodeHeader(_ file: UnsafeRawBufferPointer) throws(HeaderProblem) -> UInt64 {
        guard file.count >= headerSize else { throw .short }
        guard magic.withUnsafeBytes({ $0.elementsEqual(file[0..<8]) }) else { throw .notAJournal }
        let storedCRC = UInt32(littleEndian: file.loadUnaligned(fromByteOffset: 24, as: UInt32.self))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: file[0..<24])) == storedCRC else { throw .badChecksum }
        let version = UInt32(littleEndian: file.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard version == Self.version else { throw .unsupportedVersion(version) }
        return UInt64(littleEndian: file.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
    }

    // MARK: Records

    /// Appends one framed record. The caller has checked the field limits.
    @inline(__always)
    static func encode(_ record: LeaseRecord, into buffer: inout ByteBuffer) {
        let clientIDCount = record.clientID.count
        let hostnameCount = record.hostname.count
        let payloadLength = fixedPayloadSize + clientIDCount + hostnameCount
        let p = buffer.reserve(frameHeaderSize + payloadLength)
        let payload = p + frameHeaderSize
        p.storeBytes(of: UInt32(payloadLength).littleEndian, as: UInt32.self)
        payload.storeBytes(of: record.sequence.littleEndian, as: UInt64.self)
        payload.storeBytes(of: record.expiresAt.littleEndian, toByteOffset: 8, as: UInt64.self)
        payload.storeBytes(of: record.address.littleEndian, toByteOffset: 16, as: UInt32.self)
        let mac = record.mac.littleEndian
        withUnsafeBytes(of: mac) { (payload + 20).copyMemory(from: $0.baseAddress!, byteCount: 6) }
        payload.storeBytes(of: record.state.rawValue, toByteOffset: 26, as: UInt8.self)
        payload.storeBytes(of: UInt8(clientIDCount), toByteOffset: 27, as: UInt8.self)
        payload.storeBytes(of: UInt8(hostnameCount), toByteOffset: 28, as: UInt8.self)
        if clientIDCount > 0 {
            record.clientID.withUnsafeBytes { (payload + 29).copyMemory(from: $0.baseAddress!, byteCount: clientIDCount) }
        }
        if hostnameCount > 0 {
            record.hostname.withUnsafeBytes {
                (payload + 29 + clientIDCount).copyMemory(from: $0.baseAddress!, byteCount: hostnameCount)
            }
        }
        var crc = CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 4))
        crc = CRC32C.checksum(UnsafeRawBufferPointer(start: payload, count: payloadLength), continuing: crc)
        p.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
        buffer.commit(frameHeaderSize + payloadLength)
    }

    enum Frame {
        /// A whole, valid record and the offset of the next frame.
        case record(LeaseRecord, next: Int)
        /// The frame runs past the end of the file.
        case truncated
        /// Length out of range, checksum mismatch, or a payload that does not decode.
        case invalid
    }

    /// Decodes the frame at `offset` (which must be before the end of `file`).
    static func frame(in file: UnsafeRawBufferPointer, at offset: Int) -> Frame {
        let remaining = file.count - offset
        guard remaining >= frameHeaderSize else { return .truncated }
        let length = Int(UInt32(littleEndian: file.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        guard length >= fixedPayloadSize, length <= maximumPayloadSize else { return .invalid }
        guard remaining - frameHeaderSize >= length else { return .truncated }
        let storedCRC = UInt32(littleEndian: file.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
        var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: file[offset..<offset + 4]))
        let payloadStart = offset + frameHeaderSize
        let payload = UnsafeRawBufferPointer(rebasing: file[payloadStart..<payloadStart + length])
        crc = CRC32C.checksum(payload, continuing: crc)
        guard crc == storedCRC else { return .invalid }

        let clientIDCount = Int(payload[27])
        let hostnameCount = Int(payload[28])
        guard fixedPayloadSize + clientIDCount + hostnameCount == length,
              let state = LeaseState(rawValue: payload[26]) else { return .invalid }
        var mac: UInt64 = 0
        for i in 0..<6 { mac |= UInt64(payload[20 + i]) << (8 * UInt64(i)) }
        let record = LeaseRecord(
            address: UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 16, as: UInt32.self)),
            mac: mac,
            clientID: Array(payload[29..<29 + clientIDCount]),
            hostname: Array(payload[29 + clientIDCount..<length]),
            expiresAt: UInt64(littleEndian: payload.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            state: state,
            sequence: UInt64(littleEndian: payload.loadUnaligned(as: UInt64.self)))
        return .record(record, next: payloadStart + length)
    }
}
