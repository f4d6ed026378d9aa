/// Lower-case hexadecimal text of bytes ("0a1b"), for logs, JSON, digests and tests; not for
/// hot paths.
public func hexString(_ bytes: UnsafeRawBufferPointer, separator: String = "") -> String {
    let digits = Array("0123456789abcdef".utf8)
    let between = Array(separator.utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * (2 + between.count))
    for (i, b) in bytes.enumerated() {
        if i > 0 { text += between }
        text.append(digits[Int(b >> 4)])
        text.append(digits[Int(b & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
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
