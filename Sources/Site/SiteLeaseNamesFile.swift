import Wire

/// The named leases a standalone rack hands its site compiler process
/// (`rackplane tables compile --lease-names FILE`): one lease a line, the address in dotted
/// form, a space, then the hostname's bytes in hex (a client's hostname may hold any byte, a
/// space or a newline included).
public enum SiteLeaseNamesFile {
    public static func encode(_ names: [SiteLeaseName]) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(names.count * 40)
        for name in names {
            out.append(contentsOf: name.address.description.utf8)
            out.append(UInt8(ascii: " "))
            for byte in name.hostname.utf8 {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0xF)])
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// The leases in `bytes`, or the number of the first line that is not one.
    public static func decode(_ bytes: [UInt8]) -> Result<[SiteLeaseName], LineError> {
        var names: [SiteLeaseName] = []
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).enumerated() {
            let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard parts.count == 2, let address = IPv4Address(String(decoding: parts[0], as: UTF8.self)),
                  parts[1].count % 2 == 0, let hostname = hex(parts[1]) else {
                return .failure(LineError(line: index + 1))
            }
            names.append(SiteLeaseName(hostname: String(decoding: hostname, as: UTF8.self), address: address))
        }
        return .success(names)
    }

    public struct LineError: Error, CustomStringConvertible {
        public let line: Int
        public var description: String { "line \(line) is not \"ADDRESS HOSTNAME-IN-HEX\"" }
    }

    private static func hex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
