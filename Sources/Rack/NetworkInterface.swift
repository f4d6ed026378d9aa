import Glibc
import Wire

/// What the rack needs to know about an interface: its index, hardware address (the source of
/// L2 replies) and IPv4 address (the server identifier when IP_PKTINFO does not say).
public struct NetworkInterface: Sendable {
    public let name: String
    public let index: Int32
    public let mac: MACAddress?
    public let address: IPv4Address?

    public static func named(_ name: String) -> NetworkInterface? {
        let index = if_nametoindex(name)
        guard index != 0 else { return nil }
        return NetworkInterface(name: name, index: Int32(index), mac: hardwareAddress(name), address: ipv4Address(name))
    }

    /// Every interface with an index, for mapping IP_PKTINFO's index back to a MAC.
    public static func all() -> [NetworkInterface] {
        guard let list = if_nameindex() else { return [] }
        defer { if_freenameindex(list) }
        var result: [NetworkInterface] = []
        var cursor = list
        while cursor.pointee.if_index != 0 {
            let name = String(cString: cursor.pointee.if_name)
            result.append(NetworkInterface(name: name, index: Int32(cursor.pointee.if_index), mac: hardwareAddress(name), address: ipv4Address(name)))
            cursor += 1
        }
        return result
    }

    static func hardwareAddress(_ name: String) -> MACAddress? {
        guard let file = fopen("/sys/class/net/\(name)/address", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 64)
        guard fgets(&line, 64, file) != nil else { return nil }
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).trimmingCharacters()
        return MACAddress(text)
    }

    static func ipv4Address(_ name: String) -> IPv4Address? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            if let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
               String(cString: entry.pointee.ifa_name) == name {
                let inet = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in.self)
                return IPv4Address(UInt32(bigEndian: inet.sin_addr.s_addr))
            }
            cursor = entry.pointee.ifa_next
        }
        return nil
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == " " || last == "\r" { s.removeLast() }
        return String(s)
    }
}
