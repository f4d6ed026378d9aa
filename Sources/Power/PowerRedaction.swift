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
