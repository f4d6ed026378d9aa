import Wire

/// Confines a requested filename to the files root, as pure byte logic.
///
/// The resolver never touches the file system. It turns the name a client sent into a
/// normalised path *relative to the root* — components joined by "/", no leading "/", no empty
/// or "." components, NUL-terminated — or refuses it. What it cannot see is symbolic links: a
/// relative path with no ".." can still leave the root through a link inside it. The caller
/// therefore opens the result relative to a descriptor of the root, never by joining strings:
///
/// - Linux ≥ 5.6: `openat2(rootFD, path, { O_RDONLY|O_CLOEXEC, RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS })`
///   refuses any resolution that leaves the root, absolute links included;
/// - otherwise walk the components with `openat(dirFD, component, O_NOFOLLOW|O_DIRECTORY)` and
///   open the last with `O_NOFOLLOW` (links refused outright), or `realpath` the joined path and
///   check it still starts with the root's real path plus "/".
///
/// A refusal there is an access violation too (`TFTPPathRefusal.symbolicLinkEscape`), so the
/// error the client sees does not depend on which check caught it.
public struct TFTPPathResolver: Sendable {
    /// The longest normalised path accepted (Linux `PATH_MAX` less the NUL).
    public static let maximumPathLength = 4095
    /// The longest component accepted (Linux `NAME_MAX`).
    public static let maximumComponentLength = 255

    /// The root's own absolute path (e.g. "/srv/tftp"), if requests may name files by it:
    /// "/srv/tftp/pxelinux.0" then means "pxelinux.0" (dnsmasq: "Absolute paths (starting
    /// with /) are allowed, but they must be within the tftp-root"). Any other absolute path is
    /// taken relative to the root, as a chrooted tftpd would.
    public let rootPath: [UInt8]?

    public init(rootPath: some Collection<UInt8>) {
        var path = Array(rootPath)
        while path.count > 1, path.last == UInt8(ascii: "/") { path.removeLast() }
        self.rootPath = path.isEmpty || path == [UInt8(ascii: "/")] ? nil : path
    }

    public init() { self.rootPath = nil }

    /// Resolves `filename` (the request's bytes, without the NUL that ended them on the wire)
    /// into `output`, which should hold `maximumPathLength + 1` bytes.
    public func resolve(_ filename: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> TFTPPathResolution {
        let slash = UInt8(ascii: "/"), backslash = UInt8(ascii: "\\"), dot = UInt8(ascii: ".")
        if filename.contains(0) { return .refused(.nulByte) }

        // Some ROMs (and Windows-built configs) send "\" as the separator; a file name holding
        // a literal backslash is not worth the ambiguity.
        @inline(__always) func byte(_ i: Int) -> UInt8 {
            let b = filename[i]
            return b == backslash ? slash : b
        }

        var start = 0
        if let root = rootPath, filename.count > root.count, byte(root.count) == slash {
            var matches = true
            for i in 0..<root.count where byte(i) != root[i] {
                matches = false
                break
            }
            if matches { start = root.count }
        }

        var length = 0
        var components = 0
        var i = start
        while i < filename.count {
            // One component: filename[i..<end].
            var end = i
            while end < filename.count, byte(end) != slash { end += 1 }
            let count = end - i
            if count == 0 || (count == 1 && byte(i) == dot) {
                // Empty (leading "/", "//") or ".": nothing to add.
            } else if count == 2 && byte(i) == dot && byte(i + 1) == dot {
                // Even "a/../b", which stays inside, is refused: no client needs it, and
                // refusing every ".." means no lexical bug can turn one into an escape.
                return .refused(.parentComponent)
            } else {
                guard count <= Self.maximumComponentLength else { return .refused(.tooLong) }
                let needed = (components > 0 ? 1 : 0) + count
                guard length + needed <= Self.maximumPathLength, length + needed < output.count else {
                    return .refused(.tooLong)
                }
                if components > 0 {
                    output[length] = slash
                    length += 1
                }
                for j in i..<end {
                    output[length] = byte(j)
                    length += 1
                }
                components += 1
            }
            i = end + 1
        }
        guard components > 0 else { return .refused(.empty) }
        output[length] = 0
        return .path(length: length, components: components)
    }

    /// `resolve` into a fresh array (tests, the CLI): the path without its NUL.
    public func resolve(_ filename: some Collection<UInt8>) -> Result<[UInt8], TFTPPathRefusal> {
        let name = Array(filename)
        var output = [UInt8](repeating: 0, count: Self.maximumPathLength + 1)
        let resolution = name.withUnsafeBytes { n in
            output.withUnsafeMutableBytes { o in resolve(n, into: o) }
        }
        switch resolution {
        case .path(let length, _): return .success(Array(output[0..<length]))
        case .refused(let reason): return .failure(reason)
        }
    }
}

/// The outcome of `TFTPPathResolver.resolve`.
public enum TFTPPathResolution: Equatable, Sendable {
    /// `length` bytes of the output buffer hold the relative path (followed by a NUL), made of
    /// `components` names separated by "/".
    case path(length: Int, components: Int)
    case refused(TFTPPathRefusal)
}

/// Why a filename was refused. Stable names: they label counters.
public enum TFTPPathRefusal: Int, Error, CaseIterable, Sendable {
    case nulByte
    case parentComponent
    case tooLong
    /// Nothing left after normalising ("", "/", "./").
    case empty
    /// Not found by the resolver: the caller's `openat2`/`O_NOFOLLOW`/`realpath` check.
    case symbolicLinkEscape

    public var name: String {
        switch self {
        case .nulByte: "nul_byte"
        case .parentComponent: "parent_component"
        case .tooLong: "too_long"
        case .empty: "empty"
        case .symbolicLinkEscape: "symbolic_link_escape"
        }
    }

    /// RFC 1350 error 2, "Access violation", for every attempt to reach outside the root; an
    /// empty name names no file (1).
    public var errorCode: TFTPErrorCode {
        self == .empty ? .fileNotFound : .accessViolation
    }

    public var message: StaticString {
        switch self {
        case .nulByte, .parentComponent, .symbolicLinkEscape: "access violation"
        case .tooLong: "file name too long"
        case .empty: "file not found"
        }
    }
}
