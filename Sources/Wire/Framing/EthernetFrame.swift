/// EtherType values used here.
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88A8
    public static let ipv6: UInt16 = 0x86DD
}

/// An Ethernet II frame, with up to two 802.1Q/802.1ad tags stripped.
public struct EthernetFrame {
    public static let headerLength = 14
    public let destination: MACAddress
    public let source: MACAddress
    /// The innermost EtherType, after VLAN tags.
    public let etherType: UInt16
    /// VLAN IDs outermost first; 0 when untagged.
    public let outerVLAN: UInt16
    public let innerVLAN: UInt16
    public let payload: UnsafeRawBufferPointer

    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        var reader = WireReader(bytes)
        try reader.require(14, "ethernet.header")
        destination = MACAddress(bytes: bytes, at: 0)
        source = MACAddress(bytes: bytes, at: 6)
        try reader.skip(12, "ethernet.header")
        var type = try reader.readUInt16("ethernet.type")
        var vlans: (UInt16, UInt16) = (0, 0)
        var tags = 0
        while type == EtherType.vlan || type == EtherType.qinq {
            guard tags < 2 else { throw WireError(.limitExceeded, "ethernet.vlan", at: reader.offset) }
            let tci = try reader.readUInt16("ethernet.vlan.tci")
            if tags == 0 { vlans.0 = tci & 0x0FFF } else { vlans.1 = tci & 0x0FFF }
            tags += 1
            type = try reader.readUInt16("ethernet.type")
        }
        etherType = type
        outerVLAN = vlans.0
        innerVLAN = vlans.1
        payload = UnsafeRawBufferPointer(rebasing: bytes[reader.offset...])
    }
}
