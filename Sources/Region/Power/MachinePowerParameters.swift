import Foundation
import Power
import Wire

extension Resources.MachineInput {
    /// The parameters checked against their driver when given (422 naming the field), kept in
    /// the clear only redacted, and sealed whole (`PowerVault`). On a replace, a value sent back
    /// as the redaction marker (a GET's answer edited and PUT) keeps the secret stored before.
    func values(sealing vault: PowerVault, updating id: String?, on connection: PostgresConnection) throws -> [String?] {
        let type = powerType ?? "manual"
        var parameters = Array((powerParameters ?? JSONObject()).text.utf8)
        let given = !(powerParameters?.fields.isEmpty ?? true)
        if given, PowerRedaction.containsMarker(parameters) {
            var previous: [UInt8] = Array("{}".utf8)
            if let id, let sealed = try connection.query(
                "SELECT encode(power_parameters_sealed, 'hex') FROM machines WHERE id = $1::bigint FOR UPDATE", [id]).scalar,
               let bytes = hexDecoded(sealed) {
                do {
                    previous = try vault.open(bytes)
                } catch {
                    throw APIError(.unprocessableContent, "the stored power parameters do not open with this region's key: send them whole")
                }
            }
            guard let restored = PowerRedaction.restore(parameters, from: previous) else {
                throw APIError(.unprocessableContent, "power parameters hold \(PowerRedaction.marker) where no secret is stored to keep: send the value")
            }
            parameters = restored
        }
        do {
            if given {
                try PowerDrivers.validate(type: type, parameters: parameters)
            } else {
                // A type alone (the web UI's form) is kept: its power calls fail with the reason
                // until parameters are given.
                guard PowerDrivers.types.contains(type) else {
                    throw PowerError(.parameters, "unknown power type '\(type)' (one of: \(PowerDrivers.types.joined(separator: ", ")))")
                }
            }
        } catch {
            throw APIError(.unprocessableContent, PowerError.from(error).message)
        }
        var row = values
        row[4] = String(decoding: PowerRedaction.redact(parameters), as: UTF8.self)
        row[5] = given ? hexString(try vault.seal(parameters)) : nil
        return row
    }
}
