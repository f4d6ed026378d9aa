import Wire

/// Helpers for uncompressed wire-form names held in arrays (the compiler's side; the hot
/// path works on borrowed bytes in `ZoneTable`).
public enum ZoneNames {
    /// The wire form of presentation text ("www.maas.test", trailing dot optional), or nil if
    /// it is not a valid name.
    public static func wire(_ text: some StringProtocol) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length: Int? = buffer.withUnsafeMutableBytes { raw in
            var writer = WireWriter(raw)
            return try? DNSName.write(text: text, to: &writer)
        }
        guard let length else { return nil }
        return Array(buffer[0..<length])
    }

    /// ASCII letters folded to lower case (RFC 4343); other bytes as they are.
    public static func lowercased(_ name: [UInt8]) -> [UInt8] {
        // Most names are lower case already: share the array rather than copy it.
        guard name.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return name }
        return name.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
    }

    /// Whether `name` is `apex` or below it (both lower case).
    public static func isSubdomain(_ name: [UInt8], of apex: [UInt8]) -> Bool {
        name.withUnsafeBytes { name in apex.withUnsafeBytes { ZoneModel.isSubdomain(name, of: $0) } }
    }

    /// Presentation form, with a trailing dot.
    public static func text(_ name: [UInt8]) -> String {
        var out = ""
        var position = 0
        while position < name.count, name[position] != 0 {
            let length = Int(name[position])
            let end = min(name.count, position + 1 + length)
            out += String(decoding: name[(position + 1)..<end], as: UTF8.self) + "."
            position = end
        }
        return out.isEmpty ? "." : out
    }
}
