import Glibc
@testable import LeaseStore

/// A fresh directory under /tmp, removed (with everything in it) by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ name: String = "leasestore") {
        var template = Array("/tmp/\(name)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: errno \(errno)")
        path = String(cString: made!)
    }

    var journal: String { path + "/" + LeaseJournal.fileName }

    func remove() { Self.removeTree(path) }

    static func removeTree(_ path: String) {
        if let directory = opendir(path) {
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name == "." || name == ".." { continue }
                let child = path + "/" + name
                if entry.pointee.d_type == UInt8(DT_DIR) { removeTree(child) } else { unlink(child) }
            }
            closedir(directory)
        }
        rmdir(path)
    }

    /// The names in the directory, sorted.
    func entries() -> [String] {
        var names: [String] = []
        guard let directory = opendir(path) else { return [] }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(directory)
        return names.sorted()
    }
}

enum Files {
    static func size(_ path: String) -> Int {
        var status = stat()
        precondition(stat(path, &status) == 0)
        return Int(status.st_size)
    }

    static func read(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: size(path))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        precondition(n == bytes.count)
        return bytes
    }

    static func write(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        precondition(n == bytes.count)
    }

    static func truncate(_ path: String, to size: Int) {
        precondition(Glibc.truncate(path, off_t(size)) == 0)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

/// Record `n` of a test run: its own address in 198.18.0.0/15, a MAC, a client ID of varying
/// length (0 to 19 bytes) and a host name.
func sampleRecord(_ n: Int, state: LeaseState = .bound, address: UInt32? = nil) -> LeaseRecord {
    let mac = 0x5254_0000_0000 | UInt64(n & 0xFFFF_FFFF)
    var clientID: [UInt8] = []
    if n % 20 != 0 { clientID = [1] + (0..<(n % 20 - 1)).map { UInt8(truncatingIfNeeded: n >> ($0 % 4 * 8)) } }
    return LeaseRecord(
        address: address ?? 0xC612_0000 &+ UInt32(n),
        mac: mac,
        clientID: clientID,
        hostname: Array("node\(n)".utf8),
        expiresAt: 1_750_000_000 + UInt64(n),
        state: state)
}
