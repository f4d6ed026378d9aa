import Wire

/// The boot-loader dialect a rendered config is written in.
public enum BootConfigFormat: UInt8, CaseIterable, Sendable {
    /// SYSLINUX's `pxelinux.cfg/…` files (BIOS, fetched over TFTP).
    case pxelinux = 0
    /// GRUB 2's `grub/grub.cfg…` (UEFI, fetched over TFTP).
    case grub = 1
    /// An iPXE script, `ipxe.cfg…` (fetched over HTTP or TFTP).
    case ipxe = 2

    public var name: String {
        switch self {
        case .pxelinux: "pxelinux"
        case .grub: "grub"
        case .ipxe: "ipxe"
        }
    }
}

/// How a requested file name identifies the machine it is for.
public enum BootConfigKey: Equatable, Sendable {
    /// The name carries a MAC: `pxelinux.cfg/01-52-54-00-00-00-01`, `grub/grub.cfg-52:54:00:00:00:01`.
    case mac(MACAddress)
    /// The name carries an upper-case (or lower-case) hex address or a prefix of one, as pxelinux
    /// probes after the MAC name: `C6120015` is 198.18.0.21 (32 bits), `C61200` covers
    /// 198.18.0.0/24. `bits` is 4 × the number of digits.
    case addressPrefix(IPv4Address, bits: UInt8)
    /// A name that does not say: `pxelinux.cfg/default`, `grub/grub.cfg`, `ipxe.cfg`. The machine
    /// is found by the requester's address.
    case requester
}

/// What a requested path is, decided from its text alone (no tables).
public enum BootConfigName: Equatable, Sendable {
    /// Not one of ours: the caller serves the file from disk (with its own confinement).
    case notABootConfig
    /// In a boot-config namespace but not a name any loader asks for (`pxelinux.cfg/zz`,
    /// `grub/grub.cfg-52:54`, `pxelinux.cfg/../x`): "no such config", never a file from disk.
    case malformed(BootConfigFormat)
    /// A config to render.
    case config(BootConfigFormat, BootConfigKey)

    /// Classifies a path received over TFTP or HTTP (URL-decoded, without its query string).
    /// Leading `/` are ignored and `\` counts as `/` (some PXE ROMs send backslashes).
    ///
    /// Recognised, relative to the files root:
    /// - `pxelinux.cfg/<suffix>` and `pxelinux.cfg/default`
    /// - `grub/grub.cfg` and `grub/grub.cfg-<suffix>`
    /// - `ipxe.cfg` and `ipxe.cfg-<suffix>`
    ///
    /// where `<suffix>` is a MAC (`52:54:00:00:00:01` or `52-54-00-00-00-01`, any case), the
    /// pxelinux form `01-52-54-00-00-00-01` (ARP type 1, Ethernet), or 1 to 8 hex digits of
    /// an IPv4 address (pxelinux's and GRUB's probes after the MAC).
    public init(path: UnsafeRawBufferPointer) {
        var start = 0
        while start < path.count, path[start] == slash || path[start] == backslash { start += 1 }
        let name = UnsafeRawBufferPointer(rebasing: path[start...])
        if let rest = Self.after(Self.pxelinuxDirectory, in: name) {
            self = Self.suffix(rest, format: .pxelinux, allowDefault: true)
        } else if let rest = Self.after(Self.grubFile, in: name) {
            self = Self.baseOrSuffix(rest, format: .grub)
        } else if let rest = Self.after(Self.ipxeFile, in: name) {
            self = Self.baseOrSuffix(rest, format: .ipxe)
        } else {
            self = .notABootConfig
        }
    }

    /// Classifies a path given as text (tests, the HTTP layer's decoded path).
    public init(path: String) {
        var text = path
        self = text.withUTF8 { BootConfigName(path: UnsafeRawBufferPointer($0)) }
    }

    static let pxelinuxDirectory = Array("pxelinux.cfg/".utf8)
    static let grubFile = Array("grub/grub.cfg".utf8)
    static let ipxeFile = Array("ipxe.cfg".utf8)
    static let defaultName = Array("default".utf8)

    /// The bytes after `prefix` if `name` starts with it (`\` matching `/`).
    private static func after(_ prefix: [UInt8], in name: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard name.count >= prefix.count else { return nil }
        for i in 0..<prefix.count {
            let byte = name[i] == backslash ? slash : name[i]
            guard byte == prefix[i] else { return nil }
        }
        return UnsafeRawBufferPointer(rebasing: name[prefix.count...])
    }

    /// `grub/grub.cfg` / `ipxe.cfg` alone, or followed by `-<suffix>`; anything else after the
    /// base name (`grub/grub.cfg.bak`, `ipxe.cfg.orig`) is an ordinary file.
    private static func baseOrSuffix(_ rest: UnsafeRawBufferPointer, format: BootConfigFormat) -> BootConfigName {
        if rest.isEmpty { return .config(format, .requester) }
        guard rest[0] == UInt8(ascii: "-") else { return .notABootConfig }
        return suffix(UnsafeRawBufferPointer(rebasing: rest[1...]), format: format, allowDefault: false)
    }

    private static func suffix(_ s: UnsafeRawBufferPointer, format: BootConfigFormat, allowDefault: Bool) -> BootConfigName {
        if allowDefault, s.elementsEqual(defaultName) { return .config(format, .requester) }
        if s.count == 17, let mac = mac(s, at: 0) { return .config(format, .mac(mac)) }
        // pxelinux: "01-" then the MAC with dashes; 01 is the ARP hardware type (Ethernet).
        if s.count == 20, s[0] == UInt8(ascii: "0"), s[1] == UInt8(ascii: "1"), isSeparator(s[2]), let mac = mac(s, at: 3) {
            return .config(format, .mac(mac))
        }
        if (1...8).contains(s.count) {
            var value: UInt32 = 0
            for byte in s {
                guard let digit = ASCII.hexValue(byte) else { return .malformed(format) }
                value = value << 4 | UInt32(digit)
            }
            let bits = UInt8(4 * s.count)
            return .config(format, .addressPrefix(IPv4Address(bits == 32 ? value : value << (32 - UInt32(bits))), bits: bits))
        }
        return .malformed(format)
    }

    /// Six hex pairs separated by `:` or `-`, from `offset` to the end.
    private static func mac(_ s: UnsafeRawBufferPointer, at offset: Int) -> MACAddress? {
        var value: UInt64 = 0
        for i in 0..<6 {
            let at = offset + 3 * i
            if i > 0, !isSeparator(s[at - 1]) { return nil }
            guard let high = ASCII.hexValue(s[at]), let low = ASCII.hexValue(s[at + 1]) else { return nil }
            value = value << 8 | UInt64(high << 4 | low)
        }
        return MACAddress(value)
    }

    @inline(__always) private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-")
    }

}

private let slash = UInt8(ascii: "/")
private let backslash = UInt8(ascii: "\\")
