import Wire

/// Content-Type by file extension. A boot server serves kernels, initrds, images and loader
/// configs: everything binary is `application/octet-stream` (RFC 2046 §4.5.1, "the
/// recommended action ... is simply to offer to put the data in a file"), configs and scripts
/// are `text/plain` so they can be read in a browser or with curl.
public enum HTTPContentType {
    public static func forPath(_ path: UnsafeRawBufferPointer) -> StaticString {
        // The extension: after the last "." of the last component.
        var dot = -1
        for i in stride(from: path.count - 1, through: 0, by: -1) {
            if path[i] == UInt8(ascii: "/") { break }
            if path[i] == UInt8(ascii: ".") {
                dot = i
                break
            }
        }
        guard dot >= 0 else { return configName(path) ? "text/plain" : "application/octet-stream" }
        let ext = UnsafeRawBufferPointer(rebasing: path[(dot + 1)...])
        for (name, type) in table where ASCII.equalsIgnoringCase(ext, name) { return type }
        return configName(path) ? "text/plain" : "application/octet-stream"
    }

    public static func forPath(_ path: String) -> StaticString {
        var text = path
        return text.withUTF8 { forPath(UnsafeRawBufferPointer($0)) }
    }

    /// Files under `pxelinux.cfg/` carry no extension (`default`, `01-52-54-…`, `C6120015`).
    private static func configName(_ path: UnsafeRawBufferPointer) -> Bool {
        let prefix: StaticString = "pxelinux.cfg/"
        guard path.count > prefix.utf8CodeUnitCount else { return false }
        return ASCII.equals(UnsafeRawBufferPointer(rebasing: path[0..<prefix.utf8CodeUnitCount]), prefix)
    }

    private static let table: [(StaticString, StaticString)] = [
        ("cfg", "text/plain"), ("conf", "text/plain"), ("txt", "text/plain"), ("ipxe", "text/plain"),
        ("ks", "text/plain"), ("seed", "text/plain"), ("sh", "text/plain"), ("yaml", "text/plain"), ("yml", "text/plain"),
        ("html", "text/html"), ("json", "application/json"), ("xml", "application/xml"),
        ("iso", "application/x-iso9660-image"), ("gz", "application/gzip"), ("xz", "application/x-xz"),
        ("tar", "application/x-tar"), ("zst", "application/zstd"),
    ]
}
