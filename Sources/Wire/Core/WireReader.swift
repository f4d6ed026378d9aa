/// A bounds-checked read cursor over borrowed bytes, in network byte order.
///
/// Every read names the field it reads, so a failure says what and where. The reader never
/// copies: `readBytes` returns a slice of the same memory. The caller keeps the memory alive for
/// as long as the reader or anything read from it is used.
public struct WireReader {
    public let bytes: UnsafeRawBufferPointer
    /// Offset of the next byte to read, from the start of `bytes`.
    public var offset: Int
    /// One past the last readable byte; a sub-reader may end before `bytes` does.
    public let end: Int

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    @inlinable public var remaining: Int { end - offset }
    @inlinable public var isAtEnd: Bool { offset >= end }

    @inlinable
    public mutating func require(_ count: Int, _ field: StaticString) throws(WireError) {
        guard count >= 0, count <= end - offset else {
            throw WireError(.truncated, field, at: offset)
        }
    }

    @inlinable
    public mutating func readUInt8(_ field: StaticString) throws(WireError) -> UInt8 {
        try require(1, field)
        defer { offset += 1 }
        return bytes[offset]
    }

    @inlinable
    public mutating func readUInt16(_ field: StaticString) throws(WireError) -> UInt16 {
        try require(2, field)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    @inlinable
    public mutating func readUInt32(_ field: StaticString) throws(WireError) -> UInt32 {
        try require(4, field)
        defer { offset += 4 }
        return bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).bigEndian
    }

    /// Returns the next `count` bytes without copying and moves past them.
    @inlinable
    public mutating func readBytes(_ count: Int, _ field: StaticString) throws(WireError) -> UnsafeRawBufferPointer {
        try require(count, field)
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    @inlinable
    public mutating func skip(_ count: Int, _ field: StaticString) throws(WireError) {
        try require(count, field)
        offset += count
    }

    @inlinable
    public func peekUInt8(_ field: StaticString) throws(WireError) -> UInt8 {
        guard offset < end else { throw WireError(.truncated, field, at: offset) }
        return bytes[offset]
    }
}

extension UnsafeRawBufferPointer {
    /// Big-endian 16-bit value at `offset`; the caller has checked the bounds.
    @inlinable
    public func uint16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    /// Big-endian 32-bit value at `offset`; the caller has checked the bounds.
    @inlinable
    public func uint32(at offset: Int) -> UInt32 {
        loadUnaligned(fromByteOffset: offset, as: UInt32.self).bigEndian
    }
}
