/// Offsets of the fixed BOOTP/DHCP header (RFC 2131 §2, figure 1).
public enum DHCPLayout {
    public static let op = 0
    public static let htype = 1
    public static let hlen = 2
    public static let hops = 3
    public static let xid = 4
    public static let secs = 8
    public static let flags = 10
    public static let ciaddr = 12
    public static let yiaddr = 16
    public static let siaddr = 20
    public static let giaddr = 24
    public static let chaddr = 28
    public static let sname = 44
    public static let file = 108
    public static let magicCookie = 236
    public static let options = 240

    public static let chaddrLength = 16
    public static let snameLength = 64
    public static let fileLength = 128
    /// "99.130.83.99" (RFC 2131 §3).
    public static let magicCookieValue: UInt32 = 0x6382_5363
    /// RFC 1542 §3.1.1 / RFC 2131: BOOTP relay agents and old clients expect at least 300 bytes.
    public static let bootpMinimumLength = 300
    /// RFC 2131 §2: the broadcast bit is the leftmost bit of `flags`.
    public static let broadcastFlag: UInt16 = 0x8000
}
