import Foundation

/// Power parameters as they may be shown: every secret replaced by a marker. The region stores
/// the full parameters encrypted and only this form in the clear, for the API and the web UI.
public enum PowerRedaction {
    public static let marker = "(redacted)"

    /// Names whose values are secrets, matched case-insensitively as substrings.
    static let secretNames = ["pass", "secret", "token", "key", "auth", "cookie", "community", "credential"]

    public static func isSecret(_ name: String) -> Bool {
        let lower = name.lowercased()
        // A webhook's body template often carries the credentials too.
        return lower == "body" || secretNames.contains(where: lower.contains)
    }

    /// The JSON object with secrets replaced; a webhook's header values are all secrets (an
    /// Authorization header is the usual credential). Not an object: `{}`.
    public static func redact(_ json: [UInt8]) -> [UInt8] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] else { return Array("{}".utf8) }
        let redacted = redact(object, underHeaders: false)
        let data = (try? JSONSerialization.data(withJSONObject: redacted, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Array(data)
    }

    static func redact(_ object: [String: Any], underHeaders: Bool) -> [String: Any] {
        var result: [String: Any] = [:]
        for (name, value) in object {
            if let nested = value as? [String: Any] {
                result[name] = redact(nested, underHeaders: name.lowercased() == "headers")
            } else if underHeaders || isSecret(name) {
                result[name] = marker
            } else {
                result[name] = value
            }
        }
        return result
    }
}

extension PowerRedaction {
    /// Whether any value (at any depth) is the marker.
    public static func containsMarker(_ json: [UInt8]) -> Bool {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] else { return false }
        func walk(_ object: [String: Any]) -> Bool {
            object.values.contains { value in
                if let nested = value as? [String: Any] { return walk(nested) }
                return (value as? String) == marker
            }
        }
        return walk(object)
    }

    /// `json` with each marker replaced by the value at the same place in `previous`; nil when
    /// `previous` has nothing there to keep.
    public static func restore(_ json: [UInt8], from previous: [UInt8]) -> [UInt8]? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] else { return nil }
        let old = (try? JSONSerialization.jsonObject(with: Data(previous))) as? [String: Any] ?? [:]
        func merge(_ object: [String: Any], _ old: [String: Any]) -> [String: Any]? {
            var result: [String: Any] = [:]
            for (name, value) in object {
                if let nested = value as? [String: Any] {
                    guard let merged = merge(nested, old[name] as? [String: Any] ?? [:]) else { return nil }
                    result[name] = merged
                } else if (value as? String) == marker {
                    guard let kept = old[name], !(kept is [String: Any]) else { return nil }
                    result[name] = kept
                } else {
                    result[name] = value
                }
            }
            return result
        }
        guard let merged = merge(object, old), let data = try? JSONSerialization.data(withJSONObject: merged, options: [.sortedKeys]) else {
            return nil
        }
        return Array(data)
    }
}
