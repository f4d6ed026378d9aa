/// A resource record CLASS or question QCLASS (RFC 1035 §3.2.4). For OPT records the field
/// holds the requestor's UDP payload size instead (RFC 6891 §6.1.2).
public struct DNSClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let `in` = DNSClass(1)
    public static let ch = DNSClass(3)
    public static let hs = DNSClass(4)
    public static let none = DNSClass(254)
    public static let any = DNSClass(255)

    /// The mnemonic, else RFC 3597's "CLASS<n>".
    public var description: String {
        switch rawValue {
        case 1: "IN"
        case 3: "CH"
        case 4: "HS"
        case 254: "NONE"
        case 255: "ANY"
        default: "CLASS\(rawValue)"
        }
    }
}
