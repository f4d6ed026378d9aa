/// A parsed DHCPv4/BOOTP message: a view over the datagram, not a copy.
///
/// `init(parsing:)` checks the fixed header, the magic cookie and the structure of every option
/// area once (lengths in bounds, option 52 well-formed), and notes which option codes are
/// present. After that, fixed fields are loads at constant offsets and options are found by
/// walking the areas again (`options`), which is cheaper than building an index for the handful
/// a server looks at. The caller keeps `bytes` alive while the view is used.
public struct DHCPMessage {
    public let bytes: UnsafeRawBufferPointer
    /// Option 53 as sent, when present and one byte long (even if not a known type).
    public let rawMessageType: UInt8?
    /// Option 52: 1 = `file` holds options, 2 = `sname` does, 3 = both (RFC 2132 §9.3).
    public let overload: UInt8
    /// True when some option code appears more than once (RFC 3396 split options).
    public let hasRepeatedOptions: Bool
    @usableFromInline let presence: InlineArray<4, UInt64>

    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard bytes.count >= DHCPLayout.magicCookie else {
            throw WireError(.truncated, "dhcp.header", at: bytes.count)
        }
        guard bytes[DHCPLayout.op] == 1 || bytes[DHCPLayout.op] == 2 else {
            throw WireError(.invalidValue, "dhcp.op", at: DHCPLayout.op)
        }
        guard bytes[DHCPLayout.hlen] <= DHCPLayout.chaddrLength else {
            throw WireError(.invalidValue, "dhcp.hlen", at: DHCPLayout.hlen)
        }
        guard bytes.count >= DHCPLayout.options else {
            throw WireError(.truncated, "dhcp.magic_cookie", at: DHCPLayout.magicCookie)
        }
        guard bytes.uint32(at: DHCPLayout.magicCookie) == DHCPLayout.magicCookieValue else {
            throw WireError(.invalidValue, "dhcp.magic_cookie", at: DHCPLayout.magicCookie)
        }
        var scan = AreaScan()
        try scan.scan(bytes, from: DHCPLayout.options, to: bytes.count, mainArea: true)
        // RFC 3396 §5: options area first, then file, then sname. Option 52 found inside file or
        // sname is ignored there (AreaScan only honours it in the main area), so no loop.
        if scan.overload & 1 != 0 {
            try scan.scan(bytes, from: DHCPLayout.file, to: DHCPLayout.file + DHCPLayout.fileLength, mainArea: false)
        }
        if scan.overload & 2 != 0 {
            try scan.scan(bytes, from: DHCPLayout.sname, to: DHCPLayout.sname + DHCPLayout.snameLength, mainArea: false)
        }
        self.bytes = bytes
        self.rawMessageType = scan.messageType
        self.overload = scan.overload
        self.hasRepeatedOptions = scan.repeated
        self.presence = scan.presence
    }

    // MARK: Fixed header

    @inlinable public var op: UInt8 { bytes[DHCPLayout.op] }
    @inlinable public var htype: UInt8 { bytes[DHCPLayout.htype] }
    @inlinable public var hlen: UInt8 { bytes[DHCPLayout.hlen] }
    @inlinable public var hops: UInt8 { bytes[DHCPLayout.hops] }
    @inlinable public var xid: UInt32 { bytes.uint32(at: DHCPLayout.xid) }
    @inlinable public var secs: UInt16 { bytes.uint16(at: DHCPLayout.secs) }
    @inlinable public var flags: UInt16 { bytes.uint16(at: DHCPLayout.flags) }
    @inlinable public var isBroadcast: Bool { flags & DHCPLayout.broadcastFlag != 0 }
    @inlinable public var ciaddr: IPv4Address { IPv4Address(bytes: bytes, at: DHCPLayout.ciaddr) }
    @inlinable public var yiaddr: IPv4Address { IPv4Address(bytes: bytes, at: DHCPLayout.yiaddr) }
    @inlinable public var siaddr: IPv4Address { IPv4Address(bytes: bytes, at: DHCPLayout.siaddr) }
    @inlinable public var giaddr: IPv4Address { IPv4Address(bytes: bytes, at: DHCPLayout.giaddr) }

    /// The `hlen` meaningful bytes of `chaddr`.
    @inlinable public var chaddr: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[DHCPLayout.chaddr..<DHCPLayout.chaddr + Int(hlen)])
    }

    /// The client's Ethernet address, when `htype` is Ethernet (1) and `hlen` is 6.
    @inlinable public var clientMAC: MACAddress? {
        guard htype == 1, hlen == 6 else { return nil }
        return MACAddress(bytes: bytes, at: DHCPLayout.chaddr)
    }

    /// `sname` as a field, or nil when option 52 gave it over to options.
    public var sname: UnsafeRawBufferPointer? {
        overload & 2 != 0 ? nil : UnsafeRawBufferPointer(rebasing: bytes[DHCPLayout.sname..<DHCPLayout.file])
    }

    /// `file` as a field, or nil when option 52 gave it over to options.
    public var file: UnsafeRawBufferPointer? {
        overload & 1 != 0 ? nil : UnsafeRawBufferPointer(rebasing: bytes[DHCPLayout.file..<DHCPLayout.magicCookie])
    }

    @inlinable public var messageType: DHCPMessageType? {
        rawMessageType.flatMap(DHCPMessageType.init(rawValue:))
    }

    // MARK: Options

    /// Every option instance in wire order: the options field, then `file`, then `sname`.
    public var options: DHCPOptionSequence {
        DHCPOptionSequence(bytes: bytes, overload: overload)
    }

    /// Whether the message carries option `code` at least once; a bit test, no walk.
    @inlinable
    public func contains(_ code: UInt8) -> Bool {
        presence[Int(code >> 6)] & (1 << UInt64(code & 63)) != 0
    }

    /// Calls `body` with the value of option `code` — the concatenation of all its instances
    /// (RFC 3396 §7) — or returns nil if absent. A split option is joined in a temporary buffer
    /// on the stack, so no heap allocation either way; the bytes are valid only inside `body`.
    @inlinable
    public func withOption<R, E: Error>(
        _ code: UInt8, _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R? {
        guard contains(code) else { return nil }
        var iterator = options.makeIterator()
        guard hasRepeatedOptions else {
            while let option = iterator.next() {
                if option.code == code { return try body(option.value) }
            }
            return nil
        }
        var total = 0
        var instances = 0
        var single = UnsafeRawBufferPointer(start: nil, count: 0)
        while let option = iterator.next() {
            if option.code == code {
                total += option.value.count
                instances += 1
                single = option.value
            }
        }
        if instances == 1 { return try body(single) }
        let joined: Result<R, E> = withUnsafeTemporaryAllocation(byteCount: max(total, 1), alignment: 1) { buffer in
            var at = 0
            var again = options.makeIterator()
            while let option = again.next() {
                guard option.code == code else { continue }
                if option.value.count > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: buffer[at..<at + option.value.count]).copyMemory(from: option.value)
                }
                at += option.value.count
            }
            do throws(E) {
                return .success(try body(UnsafeRawBufferPointer(rebasing: buffer[0..<total])))
            } catch {
                return .failure(error)
            }
        }
        return try joined.get()
    }
}

/// One option instance: its code and value as found on the wire.
public struct DHCPOption {
    public let code: UInt8
    public let value: UnsafeRawBufferPointer
    /// Offset of the code byte from the start of the message.
    public let offset: Int
}

/// The option instances of a message, in wire order, across the areas option 52 opened.
public struct DHCPOptionSequence: Sequence {
    let bytes: UnsafeRawBufferPointer
    let overload: UInt8

    public func makeIterator() -> Iterator {
        Iterator(bytes: bytes, overload: overload)
    }

    public struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        let overload: UInt8
        var offset = DHCPLayout.options
        var end: Int
        /// 0 = options field, 1 = file, 2 = sname, 3 = done.
        var area = 0

        init(bytes: UnsafeRawBufferPointer, overload: UInt8) {
            self.bytes = bytes
            self.overload = overload
            self.end = bytes.count
        }

        /// The areas were validated by `DHCPMessage.init`, so this never meets a bad length.
        public mutating func next() -> DHCPOption? {
            while true {
                if offset >= end {
                    guard advanceArea() else { return nil }
                    continue
                }
                let code = bytes[offset]
                if code == DHCPOptionCode.pad {
                    offset += 1
                    continue
                }
                if code == DHCPOptionCode.end {
                    guard advanceArea() else { return nil }
                    continue
                }
                let length = Int(bytes[offset + 1])
                let option = DHCPOption(
                    code: code,
                    value: UnsafeRawBufferPointer(rebasing: bytes[offset + 2..<offset + 2 + length]),
                    offset: offset)
                offset += 2 + length
                return option
            }
        }

        private mutating func advanceArea() -> Bool {
            while area < 3 {
                area += 1
                if area == 1, overload & 1 != 0 {
                    offset = DHCPLayout.file
                    end = DHCPLayout.file + DHCPLayout.fileLength
                    return true
                }
                if area == 2, overload & 2 != 0 {
                    offset = DHCPLayout.sname
                    end = DHCPLayout.sname + DHCPLayout.snameLength
                    return true
                }
            }
            return false
        }
    }
}

/// The one validating walk over an option area.
struct AreaScan {
    var presence = InlineArray<4, UInt64>(repeating: 0)
    var repeated = false
    var overload: UInt8 = 0
    var messageType: UInt8?

    mutating func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, mainArea: Bool) throws(WireError) {
        var offset = start
        while offset < end {
            let code = bytes[offset]
            if code == DHCPOptionCode.pad {
                offset += 1
                continue
            }
            if code == DHCPOptionCode.end { return }
            guard offset + 1 < end else { throw WireError(.truncated, "dhcp.option.length", at: offset + 1) }
            let length = Int(bytes[offset + 1])
            guard offset + 2 + length <= end else {
                throw WireError(.invalidLength, "dhcp.option.value", at: offset + 1)
            }
            let word = Int(code >> 6)
            let bit: UInt64 = 1 << UInt64(code & 63)
            let seen = presence[word] & bit != 0
            if seen { repeated = true }
            presence[word] |= bit
            switch code {
            case DHCPOptionCode.optionOverload where mainArea:
                // RFC 3396 joins repeated instances, so a second 52 makes a 2-byte value: invalid.
                guard length == 1, !seen, (1...3).contains(bytes[offset + 2]) else {
                    throw WireError(.invalidValue, "dhcp.option.overload", at: offset)
                }
                overload = bytes[offset + 2]
            case DHCPOptionCode.messageType:
                // Likewise a repeated 53 joins into a message type longer than one byte.
                guard length == 1, !seen else { throw WireError(.invalidLength, "dhcp.option.message_type", at: offset + 1) }
                messageType = bytes[offset + 2]
            default:
                break
            }
            offset += 2 + length
        }
    }
}
