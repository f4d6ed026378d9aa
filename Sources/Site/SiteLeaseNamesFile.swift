import Wire

/// The named leases a standalone rack hands its site compiler process
/// (`rackplane tables compile --lease-names FILE`): one lease a line, the address in dotted
/// form, a space, then the hostname's bytes in hex (a client's hostname may hold any byte, a
/// space or a newline included).
public enum SiteLeaseNamesFile {
    public static func encode(_ names: [SiteLeaseName]) -> [UInt8] {
        Array(names.map { "\($0.address) \(hexString($0.hostname.utf8))\n" }.joined().utf8)
    }

    /// The leases in `bytes`, or the number of the first line that is not one.
    public static func decode(_ bytes: [UInt8]) -> Result<[SiteLeaseName], LineError> {
        var names: [SiteLeaseName] = []
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).enumerated() {
            let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard parts.count == 2, let address = IPv4Address(String(decoding: parts[0], as: UTF8.self)),
                  let hostname = hexDecoded(parts[1]) else {
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
}
