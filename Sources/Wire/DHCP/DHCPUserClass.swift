/// Option 77, in either form seen in the field.
///
/// RFC 3004 §4 defines a list of length-prefixed class instances. iPXE (and some other ROMs)
/// send the bare string "iPXE" instead: its first byte, 'i' = 105, is read as a length that runs
/// past the option, which is how the two forms are told apart.
public enum DHCPUserClass: Equatable, Sendable {
    case rfc3004([[UInt8]])
    case bare([UInt8])

    public init(_ bytes: UnsafeRawBufferPointer) {
        self = Self.isRFC3004(bytes) ? .rfc3004(Self.instances(bytes)) : .bare(Array(bytes))
    }

    /// The class names, one per instance (a bare value is one class).
    public var classes: [[UInt8]] {
        switch self {
        case .rfc3004(let list): list
        case .bare(let value): [value]
        }
    }

    /// Whether the list holds exactly the RFC 3004 encoding: every instance length ≥ 1 and the
    /// instances fill the option exactly.
    public static func isRFC3004(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return false }
        var offset = 0
        while offset < bytes.count {
            let length = Int(bytes[offset])
            guard length > 0, offset + 1 + length <= bytes.count else { return false }
            offset += 1 + length
        }
        return true
    }

    /// Whether any class equals `name` in either form; no allocation (the server's iPXE test).
    public static func contains(_ name: StaticString, in bytes: UnsafeRawBufferPointer) -> Bool {
        let wanted = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        if isRFC3004(bytes) {
            var offset = 0
            while offset < bytes.count {
                let length = Int(bytes[offset])
                if UnsafeRawBufferPointer(rebasing: bytes[offset + 1..<offset + 1 + length]).elementsEqual(wanted) { return true }
                offset += 1 + length
            }
            return false
        }
        return bytes.elementsEqual(wanted)
    }

    private static func instances(_ bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        var list: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let length = Int(bytes[offset])
            list.append(Array(bytes[offset + 1..<offset + 1 + length]))
            offset += 1 + length
        }
        return list
    }
}
