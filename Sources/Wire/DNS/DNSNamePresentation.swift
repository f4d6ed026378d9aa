/// Text forms of a name. They allocate, so they are for logs, JSON and tests, not hot paths.
///
/// Escaping follows RFC 4343 §2.1 and dig: `\.` and `\\` inside a label, `\DDD` (decimal) for
/// bytes outside printable ASCII 0x21–0x7E, space included. tshark differs: it leaves `.`,
/// `\` and valid UTF-8 as they are, so only names with such bytes print differently.
extension DNSName: CustomStringConvertible {
    /// Absolute presentation form with its trailing dot ("www.maas.test."); the root is ".".
    public var description: String {
        if isRoot { return "." }
        var text = ""
        for label in labels {
            appendDNSLabelText(label, to: &text)
            text += "."
        }
        return text
    }

    /// The form tshark shows (`dns.qry.name`): no trailing dot, and the root as "<Root>".
    public var displayName: String {
        if isRoot { return "<Root>" }
        var text = description
        text.removeLast()
        return text
    }
}

func appendDNSLabelText(_ label: UnsafeRawBufferPointer, to text: inout String) {
    for byte in label {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: "\\"):
            text += "\\"
            text.unicodeScalars.append(Unicode.Scalar(byte))
        case 0x21...0x7E:
            text.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            appendDecimalEscape(byte, to: &text)
        }
    }
}

/// `\DDD`: a backslash and exactly three decimal digits (RFC 1035 §5.1).
func appendDecimalEscape(_ byte: UInt8, to text: inout String) {
    text += "\\"
    text.unicodeScalars.append(Unicode.Scalar(UInt8(ascii: "0") + byte / 100))
    text.unicodeScalars.append(Unicode.Scalar(UInt8(ascii: "0") + byte / 10 % 10))
    text.unicodeScalars.append(Unicode.Scalar(UInt8(ascii: "0") + byte % 10))
}
