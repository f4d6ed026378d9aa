/// Builds one JSON object as text, keys in insertion order, for `pcap decode`'s line-per-packet
/// output. Off the hot path: plain strings are fine here.
struct JSONLine {
    private var text = "{"
    private var empty = true

    private mutating func key(_ key: String) {
        if !empty { text += "," }
        empty = false
        text += jsonQuote(key)
        text += ":"
    }

    mutating func add(_ name: String, _ value: String) {
        key(name)
        text += jsonQuote(value)
    }

    mutating func add(_ name: String, _ value: Int) {
        key(name)
        text += String(value)
    }

    mutating func add(_ name: String, _ value: Bool) {
        key(name)
        text += value ? "true" : "false"
    }

    mutating func add(_ name: String, ints: [Int]) {
        key(name)
        text += "[" + ints.map(String.init).joined(separator: ",") + "]"
    }

    mutating func add(_ name: String, strings: [String]) {
        key(name)
        text += "[" + strings.map(jsonQuote).joined(separator: ",") + "]"
    }

    /// A nested object.
    mutating func add(_ name: String, object: JSONLine) {
        key(name)
        text += object.finished
    }

    /// An array of nested objects.
    mutating func add(_ name: String, objects: [JSONLine]) {
        key(name)
        text += "[" + objects.map(\.finished).joined(separator: ",") + "]"
    }

    var finished: String { text + "}" }
}

/// JSON string literal for `s`, escaping quotes, backslashes and control characters.
func jsonQuote(_ s: String) -> String {
    var out = "\""
    out.reserveCapacity(s.utf8.count + 2)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// Bytes as text the way tshark shows a string field: printable ASCII kept, anything else as
/// `\xNN`, stopping at the first NUL (C-string fields such as DHCP `sname`/`file`).
func printableString(_ bytes: UnsafeRawBufferPointer, stopAtNUL: Bool = true) -> String {
    var s = ""
    for b in bytes {
        if b == 0, stopAtNUL { break }
        if b >= 0x20, b < 0x7F {
            s.unicodeScalars.append(Unicode.Scalar(b))
        } else {
            s += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }
    }
    return s
}
