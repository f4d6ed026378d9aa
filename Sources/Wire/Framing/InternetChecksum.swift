/// The Internet checksum (RFC 1071): one's-complement sum of 16-bit words.
public enum InternetChecksum {
    /// Adds `bytes` to a running 32-bit sum. An odd final byte is padded with zero on the right,
    /// so pieces must be fed at even offsets except the last.
    @inlinable
    public static func add(_ bytes: UnsafeRawBufferPointer, to sum: UInt32 = 0) -> UInt32 {
        var total = UInt64(sum)
        var i = 0
        let n = bytes.count
        // 8 bytes at a time: a 64-bit accumulator cannot overflow for any datagram size.
        while i + 8 <= n {
            let word = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self).bigEndian
            total &+= word >> 48 &+ (word >> 32 & 0xFFFF) &+ (word >> 16 & 0xFFFF) &+ (word & 0xFFFF)
            i += 8
        }
        while i + 2 <= n {
            total &+= UInt64(bytes.uint16(at: i))
            i += 2
        }
        if i < n { total &+= UInt64(bytes[i]) << 8 }
        while total > 0xFFFF_FFFF { total = (total & 0xFFFF_FFFF) &+ (total >> 32) }
        return UInt32(truncatingIfNeeded: total)
    }

    /// Folds a running sum to 16 bits and complements it: the value to store in the header.
    @inlinable
    public static func finish(_ sum: UInt32) -> UInt16 {
        var s = sum
        while s > 0xFFFF { s = (s & 0xFFFF) &+ (s >> 16) }
        return ~UInt16(truncatingIfNeeded: s)
    }

    /// Checksum of an IPv4 header (whose checksum field is zero or correct: a correct header
    /// sums to 0).
    @inlinable
    public static func ipv4Header(_ header: UnsafeRawBufferPointer) -> UInt16 {
        finish(add(header))
    }

    /// UDP or TCP checksum over the IPv4 pseudo-header (RFC 768) and the segment.
    /// RFC 768: a computed UDP checksum of zero is sent as all ones.
    @inlinable
    public static func transport(source: IPv4Address, destination: IPv4Address, protocol proto: UInt8, segment: UnsafeRawBufferPointer) -> UInt16 {
        var sum: UInt32 = (source.value >> 16) &+ (source.value & 0xFFFF)
        sum &+= (destination.value >> 16) &+ (destination.value & 0xFFFF)
        sum &+= UInt32(proto) &+ UInt32(segment.count)
        let result = finish(add(segment, to: sum))
        return proto == IPProtocol.udp && result == 0 ? 0xFFFF : result
    }
}

/// IP protocol numbers used here.
public enum IPProtocol {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let icmpv6: UInt8 = 58
}
