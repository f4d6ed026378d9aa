/// A JSON object built key by key in insertion order (stable output for tools and tests),
/// without Foundation.
public struct JSONObject {
    private var members: [String] = []

    public init() {}

    public mutating func add(_ key: String, _ value: String) { members.append(Self.quote(key) + ":" + Self.quote(value)) }
    public mutating func add(_ key: String, _ value: Int) { members.append(Self.quote(key) + ":" + String(value)) }
    public mutating func add(_ key: String, _ value: Bool) { members.append(Self.quote(key) + ":" + (value ? "true" : "false")) }
    public mutating func add(_ key: String, _ value: Double) {
        members.append(Self.quote(key) + ":" + (value.isFinite ? Self.number(value) : "null"))
    }
    public mutating func add(_ key: String, _ value: JSONObject) { members.append(Self.quote(key) + ":" + value.text) }
    public mutating func add(_ key: String, _ values: [String]) {
        members.append(Self.quote(key) + ":[" + values.map(Self.quote).joined(separator: ",") + "]")
    }
    public mutating func add(_ key: String, objects: [JSONObject]) {
        members.append(Self.quote(key) + ":[" + objects.map(\.text).joined(separator: ",") + "]")
    }
    public mutating func addNull(_ key: String) { members.append(Self.quote(key) + ":null") }

    public var text: String { "{" + members.joined(separator: ",") + "}" }

    /// Up to six decimals, trailing zeros dropped.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        let scaled = (value * 1_000_000).rounded()
        let negative = scaled < 0
        let magnitude = Int(abs(scaled))
        var fraction = String(magnitude % 1_000_000)
        while fraction.count < 6 { fraction = "0" + fraction }
        while fraction.hasSuffix("0") { fraction.removeLast() }
        let whole = String(magnitude / 1_000_000)
        return (negative ? "-" : "") + whole + (fraction.isEmpty ? "" : "." + fraction)
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
