import Foundation
import Region

/// What the API client prints: aligned columns for people, the server's JSON for scripts.
enum TableOutput {
    /// Columns padded to their widest cell, two spaces apart; the last column is not padded.
    static func render(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                if index == cells.count - 1 {
                    text += cell
                } else {
                    text += cell + String(repeating: " ", count: widths[index] - cell.count + 2)
                }
            }
            while text.last == " " { text.removeLast() }
            return text
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// `key: value` lines, keys aligned.
    static func fields(_ pairs: [(String, String)]) -> String {
        let width = pairs.map(\.0.count).max() ?? 0
        return pairs.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 1) + $0.1 }.joined(separator: "\n")
    }
}

extension JSONValue {
    subscript(_ key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    var array: [JSONValue] {
        if case .array(let elements) = self { return elements }
        return []
    }

    var isNull: Bool { self == .null }

    /// A cell: text as it is, whole numbers without a fraction, null as `-`, lists joined by
    /// commas, objects as JSON.
    var cell: String {
        switch self {
        case .null: "-"
        case .bool(let flag): flag ? "yes" : "no"
        case .number(let number): number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .string(let text): text.isEmpty ? "-" : Self.printable(text)
        case .array(let elements): elements.isEmpty ? "-" : elements.map(\.cell).joined(separator: ",")
        case .object: text
        }
    }

    /// Control characters (C0, DEL, C1) as `?`: text from machines (a report's message) or
    /// racks must not move the cursor or recolour the operator's terminal.
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { isControl($0) ? "?" : $0 }))
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// The cell of `key` (`-` when absent).
    func cell(_ key: String) -> String { self[key]?.cell ?? "-" }

    /// A timestamp to the second, "2026-11-27 03:03:47" (in the database's time zone).
    func time(_ key: String) -> String {
        guard let text = self[key]?.string, text.count >= 19 else { return cell(key) }
        return String(text.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }
}
