import Foundation
import Yams

/// Where a daemon's settings come from, strongest first: a flag on the command line, then the
/// environment (`RACKPLANE_REGION_STATE_DIR`, `RACKPLANE_RACK_METRICS_PORT`…), then the
/// settings file (`/etc/rackplane/region.yaml`, `/etc/rackplane/rack.yaml`: a flat YAML map of
/// the long options in snake_case), then the built-in default (docs/operations.md).
struct DaemonSettings {
    /// "region" or "rack": names the default file and the environment variables.
    let command: String
    /// The file read, if any.
    let path: String?
    private let file: [String: String]
    private let environment: [String: String]

    /// Reads `explicitPath` (which must exist), else `RACKPLANE_<COMMAND>_CONFIG`, else
    /// `/etc/rackplane/<command>.yaml` when there is one. A key that is not in `keys` is an
    /// error: a misspelt setting must not be silently ignored.
    init(command: String, explicitPath: String?, keys: Set<String>,
         environment: [String: String] = ProcessInfo.processInfo.environment, defaultDirectory: String = "/etc/rackplane") throws {
        self.command = command
        self.environment = environment
        let variable = Self.variable(command, "config")
        let chosen = explicitPath ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        let candidate = chosen ?? "\(defaultDirectory)/\(command).yaml"
        guard FileManager.default.fileExists(atPath: candidate) else {
            if let chosen { throw SettingsError("\(chosen): no such settings file") }
            path = nil
            file = [:]
            return
        }
        path = candidate
        file = try Self.parse(candidate, keys: keys)
    }

    static func parse(_ path: String, keys: Set<String>) throws -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SettingsError("\(path): \(error.localizedDescription)")
        }
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw SettingsError("\(path): not YAML: \(error)")
        }
        guard let loaded else { return [:] }
        guard let map = loaded as? [String: Any] else { throw SettingsError("\(path): expected a map of settings (key: value)") }
        var values: [String: String] = [:]
        for (key, value) in map {
            guard keys.contains(key) else {
                throw SettingsError("\(path): unknown setting \(key) (known: \(keys.sorted().joined(separator: ", ")))")
            }
            switch value {
            case let text as String: values[key] = text
            case let flag as Bool: values[key] = flag ? "true" : "false"
            case let number as Int: values[key] = String(number)
            default: throw SettingsError("\(path): \(key) must be a single value, not \(type(of: value))")
            }
        }
        return values
    }

    static func variable(_ command: String, _ key: String) -> String {
        "RACKPLANE_\(command.uppercased())_\(key.uppercased())"
    }

    /// The flag if given, else the environment, else the file; nil when none has it.
    func string(_ key: String, flag: String?) -> String? {
        if let flag { return flag }
        if let value = environment[Self.variable(command, key)], !value.isEmpty { return value }
        return file[key]
    }

    /// Where a value came from, for messages about a bad one.
    func origin(_ key: String, flag: Bool) -> String {
        if flag { return "--" + key.replacingOccurrences(of: "_", with: "-") }
        if let value = environment[Self.variable(command, key)], !value.isEmpty { return Self.variable(command, key) }
        return "\(path ?? "settings file"): \(key)"
    }

    func integer<T: FixedWidthInteger>(_ key: String, flag: T?, default fallback: T) throws -> T {
        if let flag { return flag }
        guard let text = string(key, flag: nil) else { return fallback }
        guard let value = T(text) else { throw SettingsError("\(origin(key, flag: false)) must be an integer from \(T.min) to \(T.max), not \(text)") }
        return value
    }

    func bool(_ key: String, flag: Bool?, default fallback: Bool) throws -> Bool {
        if let flag { return flag }
        guard let text = string(key, flag: nil) else { return fallback }
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw SettingsError("\(origin(key, flag: false)) must be true or false, not \(text)")
        }
    }

    /// A required value: the message says each place it may come from.
    func required(_ key: String, flag: String?) throws -> String {
        guard let value = string(key, flag: flag) else {
            let option = "--" + key.replacingOccurrences(of: "_", with: "-")
            throw SettingsError("\(option) is required (or \(Self.variable(command, key)), or \(key) in /etc/rackplane/\(command).yaml)")
        }
        return value
    }
}

struct SettingsError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
