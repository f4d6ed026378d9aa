import Glibc

/// How a subnet's addresses are used, for the utilisation bar: dynamic ranges, reserved ranges,
/// static addresses, and what is left. The four parts do not overlap (static addresses may sit
/// in reserved ranges, never in dynamic ones, so those are counted as static only) and add up to
/// the usable addresses.
struct SubnetUtilisation: Sendable, Equatable {
    var usable: UInt128
    var dynamic: UInt128
    var reserved: UInt128
    var statics: UInt128
    var free: UInt128

    struct Range: Sendable {
        var type: String
        var start: String
        var end: String
    }

    /// nil when `cidr` or an address does not parse (the database only holds ones that do).
    init?(cidr: String, ranges: [Range], staticAddresses: [String]) {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let network = Self.address(String(parts[0])), let prefix = Int(parts[1]) else { return nil }
        let bits = network.bits
        guard (0...bits).contains(prefix) else { return nil }
        let hostBits = bits - prefix
        let size: UInt128 = hostBits >= 128 ? .max : (1 << UInt128(hostBits))
        // IPv4 keeps the network and broadcast addresses back (RFC 3021 /31s and /32s have none).
        usable = bits == 32 && prefix <= 30 ? size - 2 : size

        var spans: [(type: String, start: UInt128, end: UInt128)] = []
        for range in ranges {
            guard let start = Self.address(range.start), let end = Self.address(range.end), start.value <= end.value else { return nil }
            spans.append((range.type, start.value, end.value))
        }
        func count(_ type: String) -> UInt128 {
            spans.filter { $0.type == type }.reduce(0) { Self.add($0, Self.add($1.end - $1.start, 1)) }
        }
        dynamic = count("dynamic")
        var reservedTotal = count("reserved")
        var staticCount: UInt128 = 0
        for text in Set(staticAddresses) {
            guard let address = Self.address(text) else { return nil }
            staticCount += 1
            if spans.contains(where: { $0.type == "reserved" && $0.start <= address.value && address.value <= $0.end }), reservedTotal > 0 {
                reservedTotal -= 1
            }
        }
        reserved = reservedTotal
        statics = staticCount
        let used = Self.add(Self.add(dynamic, reserved), statics)
        free = used >= usable ? 0 : usable - used
    }

    /// The part of the usable addresses `count` is, in percent (0…100, for a bar's width).
    func percent(_ count: UInt128) -> Double {
        guard usable > 0 else { return 0 }
        return min(100, Double(count) / Double(usable) * 100)
    }

    /// A sum that stops at the largest value (an IPv6 /0 has 2^128 addresses, one too many).
    static func add(_ a: UInt128, _ b: UInt128) -> UInt128 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    /// An IPv4 or IPv6 address as a number, with its width in bits.
    static func address(_ text: String) -> (value: UInt128, bits: Int)? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return (UInt128(UInt32(bigEndian: v4.s_addr)), 32)
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        return (bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }, 128)
    }
}
