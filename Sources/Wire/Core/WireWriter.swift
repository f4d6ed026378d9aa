/// A bounds-checked write cursor into a caller's buffer, in network byte order.
///
/// Writers never allocate: replies are built in memory the caller owns (a send slot, a stack
/// buffer). Running out of room throws `.noSpace` naming the field that did not fit.
public struct WireWriter {
    public let buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far; the next byte goes at `buffer[count]`.
    public var count: Int
    /// Writes past this point fail; may be less than `buffer.count` (DHCP option 57, EDNS size).
    public var limit: Int

    @inlinable
    public init(_ buffer: UnsafeMutableRawBufferPointer, limit: Int? = nil) {
        self.buffer = buffer
        self.count = 0
        self.limit = min(limit ?? buffer.count, buffer.count)
    }

    @inlinable public var remaining: Int { limit - count }

    /// The bytes written so far.
    @inlinable public var written: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[0..<count])
    }

    @inlinable
    public func require(_ n: Int, _ field: StaticString) throws(WireError) {
        guard n <= limit - count else { throw WireError(.noSpace, field, at: count) }
    }

    @inlinable
    public mutating func writeUInt8(_ value: UInt8, _ field: StaticString) throws(WireError) {
        try require(1, field)
        buffer[count] = value
        count += 1
    }

    @inlinable
    public mutating func writeUInt16(_ value: UInt16, _ field: StaticString) throws(WireError) {
        try require(2, field)
        buffer[count] = UInt8(truncatingIfNeeded: value >> 8)
        buffer[count + 1] = UInt8(truncatingIfNeeded: value)
        count += 2
    }

    @inlinable
    public mutating func writeUInt32(_ value: UInt32, _ field: StaticString) throws(WireError) {
        try require(4, field)
        buffer.storeBytes(of: value.bigEndian, toByteOffset: count, as: UInt32.self)
        count += 4
    }

    @inlinable
    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer, _ field: StaticString) throws(WireError) {
        try require(bytes.count, field)
        if bytes.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: buffer[count..<count + bytes.count]).copyMemory(from: bytes)
        }
        count += bytes.count
    }

    /// Writes the UTF-8 bytes of a static string (option values like "PXEClient").
    @inlinable
    public mutating func writeBytes(_ string: StaticString, _ field: StaticString) throws(WireError) {
        try writeBytes(UnsafeRawBufferPointer(start: string.utf8Start, count: string.utf8CodeUnitCount), field)
    }

    @inlinable
    public mutating func writeZeros(_ n: Int, _ field: StaticString) throws(WireError) {
        try require(n, field)
        if n > 0 {
            UnsafeMutableRawBufferPointer(rebasing: buffer[count..<count + n]).initializeMemory(as: UInt8.self, repeating: 0)
        }
        count += n
    }

    /// Overwrites a byte already written (a length prefix filled in afterwards).
    @inlinable
    public mutating func patchUInt8(_ value: UInt8, at offset: Int) {
        precondition(offset < count)
        buffer[offset] = value
    }

    /// Overwrites two bytes already written (a DNS count or ID filled in afterwards).
    @inlinable
    public mutating func patchUInt16(_ value: UInt16, at offset: Int) {
        precondition(offset + 2 <= count)
        buffer[offset] = UInt8(truncatingIfNeeded: value >> 8)
        buffer[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    /// Moves the end back (to drop a record that did not fit whole).
    @inlinable
    public mutating func truncate(to newCount: Int) {
        precondition(newCount <= count)
        count = newCount
    }
}
