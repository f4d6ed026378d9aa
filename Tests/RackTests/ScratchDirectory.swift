import Glibc
import Testing

/// A directory under /tmp for one test's state, removed with what is in it.
struct ScratchDirectory {
    let path: String

    init(_ prefix: String) throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        try #require(made)
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The names in it, sorted, without "." and "..".
    var entries: [String] {
        guard let stream = opendir(path) else { return [] }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != ".", name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes its files and empty subdirectories, then itself.
    func remove() {
        for name in entries where unlink(path + "/" + name) != 0 { rmdir(path + "/" + name) }
        rmdir(path)
    }
}
