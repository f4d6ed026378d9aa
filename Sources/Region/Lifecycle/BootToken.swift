import Tables
import Wire

/// Per-boot tokens: what a commissioning or deploying machine proves itself with when it
/// reports (`POST /api/v1/machines/{id}/report`). The rack renders the token on the machine's
/// kernel command line (`rackplane.token=`), so the compiler must be able to make it again —
/// yet the database keeps only its SHA-256, like API tokens. Hence a derived token:
/// HMAC-SHA-256 over the machine id and a random nonce, under a key derived from the region's
/// `power-key`. A database dump alone yields nonces and digests, not tokens.
public struct BootTokenKey: Sendable {
    let key: [UInt8]

    /// The key for boot tokens, derived from the power vault's (never used as an AES key).
    public init(vault: PowerVault) {
        key = HMACSHA256.mac(key: vault.key, message: Array("rackplane boot tokens v1".utf8))
    }

    init(key: [UInt8]) { self.key = key }

    /// What every boot token begins with (API tokens begin `rp_`).
    public static let prefix = "rpb_"

    /// The token of `machine`'s boot with `nonce`: `rpb_` and 64 hex digits.
    public func token(machine: String, nonce: String) -> String {
        Self.prefix + hexString(HMACSHA256.mac(key: key, message: Array("\(machine):\(nonce)".utf8)))
    }

    /// A fresh nonce (128 random bits, hex).
    public static func newNonce() -> String { Secrets.randomHex(bytes: 16) }
}

/// HMAC (RFC 2104) over the tables' SHA-256.
enum HMACSHA256 {
    static let blockSize = 64

    static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var block = key.count > blockSize ? SHA256.hash(key) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        var inner = SHA256()
        inner.update(block.map { $0 ^ 0x36 })
        inner.update(message)
        var outer = SHA256()
        outer.update(block.map { $0 ^ 0x5c })
        outer.update(inner.finish())
        return outer.finish()
    }
}
