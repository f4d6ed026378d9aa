import Tables
import Wire

/// Tokens, the rack secret, and their digests.
public enum Secrets {
    /// An API token: a prefix that secret scanners can spot, then 256 random bits.
    public static func newToken() -> String { "rp_" + randomHex(bytes: 32) }

    /// The shared secret racks enrol with.
    public static func newSecret() -> String { randomHex(bytes: 32) }

    /// Lower-case hex SHA-256 of the UTF-8 text: what the database keeps instead of a token.
    public static func sha256Hex(_ text: String) -> String { hexString(SHA256.hash(Array(text.utf8))) }

    /// The system generator reads getrandom(2) on Linux: fit for secrets.
    static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return hexString((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}
