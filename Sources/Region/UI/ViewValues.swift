import Foundation
import Mustache

/// What the templates read: JSON from the store (the API's own representation) turned into
/// dictionaries, arrays, strings, integers and booleans.
///
/// A null or empty string becomes `Absent`, not a missing key: a missing key would make Mustache
/// look the name up in the enclosing objects and print a parent's value in its place.
enum ViewValues {
    typealias Object = [String: Any]

    /// Decodes JSON text (an object or an array) into view values.
    static func decode(_ json: String) throws -> Any {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        return convert(value)
    }

    /// A JSON array of objects.
    static func objects(_ json: String) throws -> [Object] {
        (try decode(json) as? [Any])?.compactMap { $0 as? Object } ?? []
    }

    /// A JSON object.
    static func object(_ json: String) throws -> Object {
        try decode(json) as? Object ?? [:]
    }

    static func convert(_ value: JSONValue) -> Any {
        switch value {
        case .null: Absent()
        case .bool(let flag): flag
        case .number(let number):
            if number.rounded() == number, abs(number) < 9_007_199_254_740_992 { Int(number) } else { number }
        case .string(let text): text.isEmpty ? Absent() : text
        case .array(let elements): elements.map(convert)
        case .object(let fields): fields.mapValues(convert)
        }
    }

    /// Text of a field (nil when absent): ids and numbers as their decimal text.
    static func text(_ object: Object, _ key: String) -> String? {
        switch object[key] {
        case let text as String: text
        case let number as Int: String(number)
        case let number as Double: String(number)
        case let flag as Bool: flag ? "true" : "false"
        default: nil
        }
    }

    /// "2026-11-27T03:12:45.123456+00:00" → "2026-11-27 03:12:45": seconds are enough on a page,
    /// and every time on it is in the region's database time zone.
    static func displayTime(_ iso: String) -> String {
        let trimmed = iso.prefix(19)
        return trimmed.replacingOccurrences(of: "T", with: " ")
    }

    /// 1536 → "1.5 KiB".
    static func byteSize(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) bytes" }
        return String(format: value >= 100 ? "%.0f " : "%.1f ", value) + units[unit]
    }

    /// 75 → "1 min ago".
    static func age(seconds: Int) -> String {
        switch seconds {
        case ..<0: "just now"
        case 0..<60: "\(seconds) s ago"
        case 60..<3600: "\(seconds / 60) min ago"
        case 3600..<86400: "\(seconds / 3600) h ago"
        default: "\(seconds / 86400) d ago"
        }
    }
}

/// A null (or empty) value: prints nothing and counts as false in a section.
struct Absent: MustacheCustomRenderable {
    var renderText: String { "" }
    var isNull: Bool { true }
}
