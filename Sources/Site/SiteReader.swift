import Wire
import Yams

/// A line and column in the site file, from libyaml's marks (both from 1).
struct SitePosition: Hashable, Comparable {
    var line: Int
    var column: Int

    static func < (lhs: SitePosition, rhs: SitePosition) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }
}

extension Node {
    /// Where the node starts. Composed nodes always carry a mark; the zero position only shows
    /// if a node was built by hand.
    var position: SitePosition {
        mark.map { SitePosition(line: $0.line, column: $0.column) } ?? SitePosition(line: 0, column: 0)
    }

    /// How an operator would name what they wrote, for "must be …, not …" messages.
    var shapeName: String {
        switch self {
        case .scalar: "a single value"
        case .mapping: "a mapping (key: value)"
        case .sequence: "a list"
        }
    }

    /// `~`, `null` or nothing at all after the colon: the key is there but says nothing.
    var isNull: Bool {
        guard case let .scalar(scalar) = self, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }
}

/// The keys of one YAML mapping, checked against the keys its place allows.
struct SiteFields {
    /// How messages name the mapping: "subnet", "boot.files", "the top level".
    let context: String
    let position: SitePosition
    fileprivate(set) var entries: [String: (key: Node, value: Node)] = [:]
    /// Set when a key was refused: a required key then goes unreported, since the refused one is
    /// most likely it misspelt and its message already lists the allowed keys.
    fileprivate(set) var hasUnknownKeys = false

    /// The value of `key`; nil when the key is absent or null (a null means "use the default").
    subscript(key: String) -> Node? {
        guard let value = entries[key]?.value, !value.isNull else { return nil }
        return value
    }

    /// Where `key` itself is written (for "needs a value" on `key: ~`), else the mapping's start.
    func position(of key: String) -> SitePosition {
        entries[key]?.key.position ?? position
    }
}

/// Reads values out of composed YAML nodes, recording every problem instead of stopping at the
/// first, so one run can report them all.
struct SiteReader {
    let file: String
    private(set) var errors: [SiteFileError] = []

    init(file: String) { self.file = file }

    mutating func report(_ position: SitePosition, _ message: String) {
        errors.append(SiteFileError(file: file, line: position.line, column: position.column, message: message))
    }

    // MARK: Shapes

    /// The node as a mapping whose keys are all in `allowed` (in the order documented), each once.
    mutating func fields(_ node: Node, _ context: String, allowed: [String]) -> SiteFields? {
        guard case let .mapping(mapping) = node else {
            report(node.position, "\(context) must be a mapping (key: value), not \(node.shapeName)")
            return nil
        }
        var fields = SiteFields(context: context, position: node.position)
        for (key, value) in mapping {
            guard case let .scalar(scalar) = key else {
                report(key.position, "keys in \(context) must be plain names, not \(key.shapeName)")
                continue
            }
            let name = scalar.string
            guard allowed.contains(name) else {
                var message = "unknown key '\(name)' in \(context)"
                if let guess = SiteSyntax.closest(to: name, in: allowed) { message += " (did you mean '\(guess)'?)" }
                message += "; allowed keys: " + allowed.joined(separator: ", ")
                report(key.position, message)
                fields.hasUnknownKeys = true
                continue
            }
            if let first = fields.entries[name] {
                report(key.position, "duplicate key '\(name)' in \(context) (first at line \(first.key.position.line))")
                continue
            }
            fields.entries[name] = (key, value)
        }
        return fields
    }

    /// The node as a list; a missing or null list is empty.
    mutating func list(_ node: Node?, _ what: String, example: String) -> [Node] {
        guard let node else { return [] }
        guard case let .sequence(sequence) = node else {
            report(node.position, "\(what) must be a list like \(example), not \(node.shapeName)")
            return []
        }
        return Array(sequence)
    }

    // MARK: Scalars

    /// The text of a scalar, whatever its quoting.
    mutating func text(_ node: Node, _ what: String) -> String? {
        guard case let .scalar(scalar) = node else {
            report(node.position, "\(what) must be a single value, not \(node.shapeName)")
            return nil
        }
        return scalar.string
    }

    /// The text of `fields[key]`, reporting its absence.
    mutating func requiredText(_ fields: SiteFields, _ key: String) -> (String, Node)? {
        guard let node = fields[key] else {
            if fields.hasUnknownKeys {
                // Reported as the unknown key.
            } else if fields.entries[key] != nil {
                report(fields.position(of: key), "'\(key)' in \(fields.context) needs a value")
            } else {
                report(fields.position, "\(fields.context) needs '\(key)'")
            }
            return nil
        }
        guard let text = text(node, key) else { return nil }
        return (text, node)
    }

    /// Optional text that must not be empty when given.
    mutating func optionalText(_ fields: SiteFields, _ key: String) -> String? {
        guard let node = fields[key], let text = text(node, key) else { return nil }
        if text.isEmpty {
            report(node.position, "\(key) must not be empty (leave the key out instead)")
            return nil
        }
        return text
    }

    mutating func address(_ node: Node, _ what: String) -> IPv4Address? {
        guard let text = text(node, what) else { return nil }
        guard let address = IPv4Address(text) else {
            report(node.position, "\(what) '\(text)' is not an IPv4 address (write a dotted quad like 198.18.0.1)")
            return nil
        }
        return address
    }

    mutating func optionalAddress(_ fields: SiteFields, _ key: String) -> IPv4Address? {
        fields[key].flatMap { address($0, key) }
    }

    mutating func addressList(_ fields: SiteFields, _ key: String) -> [IPv4Address] {
        list(fields[key], key, example: "[198.18.0.1]").compactMap { address($0, "address in \(key)") }
    }

    /// A plain (unquoted) decimal number in `range`.
    mutating func unsigned(_ node: Node, _ what: String, in range: ClosedRange<UInt32>) -> UInt32? {
        guard case let .scalar(scalar) = node else {
            report(node.position, "\(what) must be a number, not \(node.shapeName)")
            return nil
        }
        let digits = scalar.string
        guard scalar.style == .plain || scalar.style == .any,
              !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else {
            let quoted = scalar.style != .plain && scalar.style != .any ? " (remove the quotes)" : ""
            report(node.position, "\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(digits)'\(quoted)")
            return nil
        }
        guard let value = UInt32(digits), range.contains(value) else {
            report(node.position, "\(what) must be from \(range.lowerBound) to \(range.upperBound), not \(digits)")
            return nil
        }
        return value
    }

    mutating func boolean(_ node: Node, _ what: String) -> Bool? {
        guard case let .scalar(scalar) = node else {
            report(node.position, "\(what) must be true or false, not \(node.shapeName)")
            return nil
        }
        let plain = scalar.style == .plain || scalar.style == .any
        if plain, ["true", "True", "TRUE"].contains(scalar.string) { return true }
        if plain, ["false", "False", "FALSE"].contains(scalar.string) { return false }
        report(node.position, "\(what) must be true or false, not '\(scalar.string)'")
        return nil
    }

    /// One of an enum's raw values, named in the message when it is not.
    mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ node: Node, _ what: String, as: Choice.Type = Choice.self
    ) -> Choice? where Choice.RawValue == String {
        guard let text = text(node, what) else { return nil }
        guard let value = Choice(rawValue: text) else {
            let allowed = Choice.allCases.map(\.rawValue).joined(separator: " | ")
            report(node.position, "\(what) must be one of \(allowed), not '\(text)'")
            return nil
        }
        return value
    }
}
