/// One option of a request or OACK: name and value as byte views into the packet, without
/// their terminating NULs.
public struct TFTPOption {
    public let name: UnsafeRawBufferPointer
    public let value: UnsafeRawBufferPointer
    /// Offset of the value from the start of the packet, for errors about it.
    public let valueOffset: Int

    @usableFromInline
    init(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, valueOffset: Int) {
        self.name = name
        self.value = value
        self.valueOffset = valueOffset
    }
}

/// The option list of an RRQ, WRQ or OACK (RFC 2347), iterated lazily.
///
/// `TFTPPacket.parse` has already checked that every name and value is NUL-terminated, so
/// iteration cannot fail; only the typed accessors validate values. Unknown options are
/// skipped by the accessors, never an error: RFC 2347 "Unrecognized options are ignored".
public struct TFTPOptions: Sequence {
    public let bytes: UnsafeRawBufferPointer
    /// Where the list lies in `bytes`: from the first option name to the end of the packet.
    public let range: Range<Int>

    @usableFromInline
    init(bytes: UnsafeRawBufferPointer, range: Range<Int>) {
        self.bytes = bytes
        self.range = range
    }

    /// Checks that `range` holds whole name/value pairs, each NUL-terminated.
    static func validated(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(WireError) -> TFTPOptions {
        var offset = start
        while offset < bytes.count {
            let nameEnd = try TFTPPacket.terminator(bytes, from: offset, "tftp.option.name")
            offset = try TFTPPacket.terminator(bytes, from: nameEnd + 1, "tftp.option.value") + 1
        }
        return TFTPOptions(bytes: bytes, range: start..<bytes.count)
    }

    public var isEmpty: Bool { range.isEmpty }

    public struct Iterator: IteratorProtocol {
        @usableFromInline let bytes: UnsafeRawBufferPointer
        @usableFromInline var offset: Int
        @usableFromInline let end: Int

        @usableFromInline
        init(bytes: UnsafeRawBufferPointer, offset: Int, end: Int) {
            self.bytes = bytes
            self.offset = offset
            self.end = end
        }

        @inlinable
        public mutating func next() -> TFTPOption? {
            guard offset < end else { return nil }
            let nameStart = offset
            while bytes[offset] != 0 { offset += 1 }
            let name = UnsafeRawBufferPointer(rebasing: bytes[nameStart..<offset])
            offset += 1
            let valueStart = offset
            while bytes[offset] != 0 { offset += 1 }
            let value = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<offset])
            offset += 1
            return TFTPOption(name: name, value: value, valueOffset: valueStart)
        }
    }

    @inlinable
    public func makeIterator() -> Iterator {
        Iterator(bytes: bytes, offset: range.lowerBound, end: range.upperBound)
    }

    /// The first option whose name matches `name` ignoring case (RFC 2347: option names are
    /// case-insensitive). A repeated option is not an error; the first one wins.
    @inlinable
    public func first(named name: StaticString) -> TFTPOption? {
        for option in self where ASCII.equalsIgnoringCase(option.name, name) { return option }
        return nil
    }

    /// `blksize` (RFC 2348): "Valid values range between "8" and "65464" octets, inclusive."
    /// Nil if absent; throws if present but not a decimal in that range.
    public func blockSize() throws(WireError) -> UInt16? {
        guard let v = try number(named: "blksize", "tftp.option.blksize", in: 8...65464) else { return nil }
        return UInt16(v)
    }

    /// `tsize` (RFC 2349): 0 in a read request ("the server should return the size"), the
    /// size in octets otherwise. Nil if absent; throws if present but not a decimal.
    public func transferSize() throws(WireError) -> UInt64? {
        try number(named: "tsize", "tftp.option.tsize", in: 0...UInt64.max)
    }

    /// `timeout` (RFC 2349): "Valid values range between "1" and "255" seconds, inclusive."
    public func timeout() throws(WireError) -> UInt8? {
        guard let v = try number(named: "timeout", "tftp.option.timeout", in: 1...255) else { return nil }
        return UInt8(v)
    }

    /// `windowsize` (RFC 7440): "Valid values range between "1" and "65535" blocks, inclusive."
    public func windowSize() throws(WireError) -> UInt16? {
        guard let v = try number(named: "windowsize", "tftp.option.windowsize", in: 1...65535) else { return nil }
        return UInt16(v)
    }

    /// All four known options at once; throws on the first invalid one.
    public func values() throws(WireError) -> TFTPOptionValues {
        TFTPOptionValues(
            blockSize: try blockSize(), transferSize: try transferSize(),
            timeout: try timeout(), windowSize: try windowSize())
    }

    private func number(named name: StaticString, _ field: StaticString, in bounds: ClosedRange<UInt64>) throws(WireError) -> UInt64? {
        guard let option = first(named: name) else { return nil }
        guard let v = ASCII.decimal(option.value), bounds.contains(v) else {
            throw WireError(.invalidValue, field, at: option.valueOffset)
        }
        return v
    }
}

/// Typed values of the options this codec knows, for writing a request or OACK and for reading
/// them back. Nil means "not present".
public struct TFTPOptionValues: Equatable, Sendable {
    public var blockSize: UInt16?
    public var transferSize: UInt64?
    public var timeout: UInt8?
    public var windowSize: UInt16?

    public init(blockSize: UInt16? = nil, transferSize: UInt64? = nil, timeout: UInt8? = nil, windowSize: UInt16? = nil) {
        self.blockSize = blockSize
        self.transferSize = transferSize
        self.timeout = timeout
        self.windowSize = windowSize
    }

    public var isEmpty: Bool { self == TFTPOptionValues() }

    /// Writes each present option as `name NUL value NUL`, in the order blksize, tsize, timeout,
    /// windowsize. Refuses values outside the ranges the RFCs allow.
    public func write(to writer: inout WireWriter) throws(WireError) {
        if let v = blockSize {
            guard (8...65464).contains(v) else { throw WireError(.invalidValue, "tftp.option.blksize", at: writer.count) }
            try Self.write("blksize", UInt64(v), to: &writer)
        }
        if let v = transferSize { try Self.write("tsize", v, to: &writer) }
        if let v = timeout {
            guard v >= 1 else { throw WireError(.invalidValue, "tftp.option.timeout", at: writer.count) }
            try Self.write("timeout", UInt64(v), to: &writer)
        }
        if let v = windowSize {
            guard v >= 1 else { throw WireError(.invalidValue, "tftp.option.windowsize", at: writer.count) }
            try Self.write("windowsize", UInt64(v), to: &writer)
        }
    }

    private static func write(_ name: StaticString, _ value: UInt64, to writer: inout WireWriter) throws(WireError) {
        try writer.writeBytes(name, "tftp.option.name")
        try writer.writeUInt8(0, "tftp.option.name")
        try writer.writeDecimal(value, "tftp.option.value")
        try writer.writeUInt8(0, "tftp.option.value")
    }
}
