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
