import CLibCrypto
import Power
import Foundation
import Wire

/// Seals power parameters (BMC passwords, webhook tokens) before they reach the database:
/// AES-256-GCM with a fresh 96-bit nonce per value, through OpenSSL's libcrypto. The key is 32
/// random bytes in the region's state directory (`power-key`, 0600), like the rack secret's
/// copy; a database dump alone reveals no credential. Regions sharing a database need the same
/// key file (`docs/power.md`).
///
/// Layout: version (1), nonce (12), ciphertext, tag (16).
public struct PowerVault: Sendable {
    public static let keyFile = "power-key"
    static let version: UInt8 = 1
    static let nonceSize = 12
    static let tagSize = 16
    /// Binds every sealed value to its purpose: a value sealed for something else will not open.
    static let associatedData = Array("rackplane power parameters v1".utf8)

    let key: [UInt8]

    public init(key: [UInt8]) {
        precondition(key.count == 32, "an AES-256 key is 32 bytes")
        self.key = key
    }

    /// A key of its own (tests; a region always loads or creates its file).
    public static func random() -> PowerVault {
        var generator = SystemRandomNumberGenerator()
        return PowerVault(key: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// The state directory's key, created on first start.
    public static func load(from state: StateDirectory) throws -> PowerVault {
        let path = state.path + "/" + keyFile
        if FileManager.default.fileExists(atPath: path) {
            let text = try state.read(keyFile)
            guard text.count == 64, let key = hexDecoded(text) else {
                throw PowerVaultError("\(path) is not 64 hex digits (an AES-256 key)")
            }
            return PowerVault(key: key)
        }
        let vault = random()
        try state.write(hexString(vault.key) + "\n", to: keyFile)
        return vault
    }

    public func seal(_ plaintext: [UInt8]) throws -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: Self.nonceSize)
        guard RAND_bytes(&nonce, Int32(nonce.count)) == 1 else { throw PowerVaultError("no random bytes for a nonce") }
        guard let context = EVP_CIPHER_CTX_new() else { throw PowerVaultError("EVP_CIPHER_CTX_new failed") }
        defer { EVP_CIPHER_CTX_free(context) }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 16)
        var tag = [UInt8](repeating: 0, count: Self.tagSize)
        var length: Int32 = 0, finalLength: Int32 = 0
        let aad = Self.associatedData
        // The EVP_CTRL_GCM_* macros alias others, which Swift does not import: their values.
        let setIVLength: Int32 = 0x9, getTag: Int32 = 0x10
        guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(context, setIVLength, Int32(Self.nonceSize), nil) == 1,
              EVP_EncryptInit_ex(context, nil, nil, key, nonce) == 1,
              EVP_EncryptUpdate(context, nil, &length, aad, Int32(aad.count)) == 1,
              EVP_EncryptUpdate(context, &ciphertext, &length, plaintext, Int32(plaintext.count)) == 1,
              ciphertext.withUnsafeMutableBufferPointer({ EVP_EncryptFinal_ex(context, $0.baseAddress! + Int(length), &finalLength) }) == 1,
              EVP_CIPHER_CTX_ctrl(context, getTag, Int32(Self.tagSize), &tag) == 1
        else { throw PowerVaultError("AES-GCM encryption failed") }
        return [Self.version] + nonce + ciphertext[0..<Int(length + finalLength)] + tag
    }

    public func open(_ sealed: [UInt8]) throws -> [UInt8] {
        guard sealed.count >= 1 + Self.nonceSize + Self.tagSize, sealed[0] == Self.version else {
            throw PowerVaultError("sealed power parameters have an unknown layout")
        }
        let nonce = Array(sealed[1..<(1 + Self.nonceSize)])
        let ciphertext = Array(sealed[(1 + Self.nonceSize)..<(sealed.count - Self.tagSize)])
        var tag = Array(sealed[(sealed.count - Self.tagSize)...])
        guard let context = EVP_CIPHER_CTX_new() else { throw PowerVaultError("EVP_CIPHER_CTX_new failed") }
        defer { EVP_CIPHER_CTX_free(context) }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var length: Int32 = 0, finalLength: Int32 = 0
        let aad = Self.associatedData
        let setIVLength: Int32 = 0x9, setTag: Int32 = 0x11
        guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(context, setIVLength, Int32(Self.nonceSize), nil) == 1,
              EVP_DecryptInit_ex(context, nil, nil, key, nonce) == 1,
              EVP_DecryptUpdate(context, nil, &length, aad, Int32(aad.count)) == 1,
              EVP_DecryptUpdate(context, &plaintext, &length, ciphertext, Int32(ciphertext.count)) == 1,
              EVP_CIPHER_CTX_ctrl(context, setTag, Int32(Self.tagSize), &tag) == 1
        else { throw PowerVaultError("AES-GCM decryption failed") }
        // The tag is checked here: a wrong key or a changed byte ends in failure, not in garbage.
        guard plaintext.withUnsafeMutableBufferPointer({ EVP_DecryptFinal_ex(context, $0.baseAddress! + Int(length), &finalLength) }) == 1 else {
            throw PowerVaultError("power parameters do not open with this region's key (power-key differs from the one that sealed them?)")
        }
        return Array(plaintext[0..<Int(length + finalLength)])
    }
}

public struct PowerVaultError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension RegionStore {
    /// Machines stored before power parameters were sealed (migration 009) keep them in the
    /// clear in `power_parameters`: seal them and leave the redacted copy. Run at start.
    @discardableResult
    public func sealPlaintextPowerParameters() async throws -> Int {
        let vault = powerVault
        return try await pool.withConnection { connection in
            try connection.transaction { connection in
                let rows = try connection.query("""
                    SELECT id, power_parameters::text AS parameters FROM machines
                    WHERE power_parameters_sealed IS NULL AND power_parameters <> '{}'::jsonb FOR UPDATE
                    """).rows
                for row in rows {
                    guard let id = row["id"], let parameters = row["parameters"] else { continue }
                    let bytes = Array(parameters.utf8)
                    try connection.query(
                        "UPDATE machines SET power_parameters = $2::jsonb, power_parameters_sealed = decode($3, 'hex') WHERE id = $1::bigint",
                        [id, String(decoding: PowerRedaction.redact(bytes), as: UTF8.self), hexString(try vault.seal(bytes))])
                }
                return rows.count
            }
        }
    }
}

extension RegionStore {
    /// Whether this region's key opens the power parameters already stored (true when there are
    /// none): a region started with a new `power-key` beside a database sealed under another
    /// says so at start, not at the first power call.
    public func powerKeyOpensStoredParameters() async throws -> Bool {
        let vault = powerVault
        let sealed = try await read { connection in
            try connection.query("SELECT encode(power_parameters_sealed, 'hex') FROM machines WHERE power_parameters_sealed IS NOT NULL LIMIT 1").scalar
        }
        guard let sealed, let bytes = hexDecoded(sealed) else { return true }
        return (try? vault.open(bytes)) != nil
    }
}
