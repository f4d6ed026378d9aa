import Foundation
import Glibc

/// Where the API client finds its region: `rackplane login` writes `cli.json` (URL and token,
/// mode 0600) under `$XDG_CONFIG_HOME/rackplane` (default `~/.config/rackplane`);
/// `RACKPLANE_URL` and `RACKPLANE_TOKEN` override either field.
struct ClientConfiguration: Codable, Equatable {
    var url: String
    var token: String

    static var directory: String {
        let environment = ProcessInfo.processInfo.environment
        if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") { return config + "/rackplane" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.config/rackplane"
    }

    static var path: String { directory + "/cli.json" }

    /// The file, then the environment over it; a missing URL or token is an error that says how
    /// to log in.
    static func load() throws -> ClientConfiguration {
        let environment = ProcessInfo.processInfo.environment
        var stored: ClientConfiguration?
        if let data = FileManager.default.contents(atPath: path) {
            do {
                stored = try JSONDecoder().decode(ClientConfiguration.self, from: data)
            } catch {
                throw ClientError("\(path) is not a login file (\(error)); run rackplane login URL TOKEN again")
            }
        }
        let url = environment["RACKPLANE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? stored?.url
        let token = environment["RACKPLANE_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? stored?.token
        guard let url, let token else {
            throw ClientError("not logged in: run rackplane login URL TOKEN (or set RACKPLANE_URL and RACKPLANE_TOKEN)")
        }
        return ClientConfiguration(url: url, token: token)
    }

    /// Writes the file: the directory 0700, the file created 0600 before the token is in it,
    /// replaced atomically.
    func save() throws {
        let directory = Self.directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ClientError("cannot create \(directory): \(error.localizedDescription)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes = Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
        let target = Self.path
        let temporary = target + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ClientError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        // An older file may have been made with looser permissions.
        fchmod(descriptor, 0o600)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0, rename(temporary, target) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ClientError("cannot write \(target): \(reason)")
        }
    }
}

/// A failure the user can act on: printed as `rackplane: MESSAGE`, exit status 1.
struct ClientError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
