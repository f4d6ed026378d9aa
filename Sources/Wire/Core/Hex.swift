/// Lower-case hexadecimal text of bytes ("0a1b"), for logs, JSON and tests; not for hot paths.
public func hexString(_ bytes: UnsafeRawBufferPointer, separator: String = "") -> String {
    let digits: [Character] = Array("0123456789abcdef")
    var s = ""
    s.reserveCapacity(bytes.count * (2 + separator.count))
    for (i, b) in bytes.enumerated() {
        if i > 0 { s += separator }
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 0xF)])
    }
    return s
}

public func hexString(_ bytes: some Collection<UInt8>, separator: String = "") -> String {
    Array(bytes).withUnsafeBytes { hexString($0, separator: separator) }
}

/// The bytes of hexadecimal text ("0a1B"): two digits a byte, either case, nothing else; nil
/// for anything else.
public func hexDecoded(_ digits: some Collection<UInt8>) -> [UInt8]? {
    guard digits.count % 2 == 0 else { return nil }
    func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    var index = digits.startIndex
    while index != digits.endIndex {
        let next = digits.index(after: index)
        guard let high = value(digits[index]), let low = value(digits[next]) else { return nil }
        bytes.append(high << 4 | low)
        index = digits.index(after: next)
    }
    return bytes
}

public func hexDecoded(_ text: String) -> [UInt8]? { hexDecoded(text.utf8) }
