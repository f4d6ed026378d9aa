/// Code/length/value sub-options inside an option's value: option 43 (vendor), 82 (relay agent,
/// RFC 3046), 175 (iPXE). Iterated lazily; a length past the end is an error, not a truncation.
public struct DHCPSubOptionIterator {
    public let bytes: UnsafeRawBufferPointer
    public var offset = 0
    /// Whether code 0 is padding and 255 ends the list (vendor options), or plain codes (82).
    public let padAndEnd: Bool

    public init(_ bytes: UnsafeRawBufferPointer, padAndEnd: Bool = false) {
        self.bytes = bytes
        self.padAndEnd = padAndEnd
    }

    public mutating func next() throws(WireError) -> (code: UInt8, value: UnsafeRawBufferPointer)? {
        while offset < bytes.count {
            let code = bytes[offset]
            if padAndEnd, code == 0 {
                offset += 1
                continue
            }
            if padAndEnd, code == 255 {
                offset = bytes.count
                return nil
            }
            guard offset + 1 < bytes.count else { throw WireError(.truncated, "dhcp.suboption.length", at: offset + 1) }
            let length = Int(bytes[offset + 1])
            guard offset + 2 + length <= bytes.count else {
                throw WireError(.invalidLength, "dhcp.suboption.value", at: offset + 1)
            }
            let value = UnsafeRawBufferPointer(rebasing: bytes[offset + 2..<offset + 2 + length])
            offset += 2 + length
            return (code, value)
        }
        return nil
    }

    /// The first sub-option with `code`, or nil.
    public static func find(_ code: UInt8, in bytes: UnsafeRawBufferPointer, padAndEnd: Bool = false) throws(WireError) -> UnsafeRawBufferPointer? {
        var iterator = DHCPSubOptionIterator(bytes, padAndEnd: padAndEnd)
        while let sub = try iterator.next() {
            if sub.code == code { return sub.value }
        }
        return nil
    }
}

/// Option 82 sub-option codes (RFC 3046, 3527, 5107, 6607).
public enum RelayAgentSubOption {
    public static let circuitID: UInt8 = 1
    public static let remoteID: UInt8 = 2
    public static let linkSelection: UInt8 = 5
    public static let serverIdentifierOverride: UInt8 = 11
    public static let virtualSubnetSelection: UInt8 = 151
}

/// Option 82 decoded into the sub-options a server acts on. Off the hot path (it copies); the
/// server echoes option 82 byte for byte and looks sub-options up with `DHCPSubOptionIterator`.
public struct DHCPRelayAgentInformation: Equatable, Sendable {
    public var circuitID: [UInt8]?
    public var remoteID: [UInt8]?
    public var linkSelection: IPv4Address?
    public var serverIdentifierOverride: IPv4Address?
    public var virtualSubnetSelection: [UInt8]?
    /// Every sub-option in wire order, known or not.
    public var subOptions: [(code: UInt8, value: [UInt8])] = []

    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        var iterator = DHCPSubOptionIterator(bytes)
        while let (code, value) = try iterator.next() {
            subOptions.append((code, Array(value)))
            switch code {
            case RelayAgentSubOption.circuitID: circuitID = Array(value)
            case RelayAgentSubOption.remoteID: remoteID = Array(value)
            case RelayAgentSubOption.linkSelection:
                guard value.count == 4 else { throw WireError(.invalidLength, "dhcp.option82.link_selection", at: iterator.offset - value.count - 1) }
                linkSelection = IPv4Address(bytes: value, at: 0)
            case RelayAgentSubOption.serverIdentifierOverride:
                guard value.count == 4 else { throw WireError(.invalidLength, "dhcp.option82.server_id_override", at: iterator.offset - value.count - 1) }
                serverIdentifierOverride = IPv4Address(bytes: value, at: 0)
            case RelayAgentSubOption.virtualSubnetSelection: virtualSubnetSelection = Array(value)
            default: break
            }
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.circuitID == rhs.circuitID && lhs.remoteID == rhs.remoteID && lhs.linkSelection == rhs.linkSelection
            && lhs.serverIdentifierOverride == rhs.serverIdentifierOverride
            && lhs.virtualSubnetSelection == rhs.virtualSubnetSelection
            && lhs.subOptions.map(\.code) == rhs.subOptions.map(\.code)
            && lhs.subOptions.map(\.value) == rhs.subOptions.map(\.value)
    }
}
