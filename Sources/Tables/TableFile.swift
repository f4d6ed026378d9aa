import Glibc

/// Opening snapshot files: mapped read-only, so the page cache is the only copy and every
/// ring reads the same pages. Writing: to a temporary name, fsync, rename — a reader never
/// sees half a file.
public enum TableFile {
    final class Mapping {
        let base: UnsafeMutableRawPointer?
        let length: Int

        init(base: UnsafeMutableRawPointer?, length: Int) {
            self.base = base
            self.length = length
        }

        deinit { if let base, length > 0 { munmap(base, length) } }
    }

    /// Maps and validates a snapshot file.
    public static func open(_ path: String) throws(TablesError) -> TableSnapshot {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TablesError(.io, "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw TablesError(.io, "\(path): \(String(cString: strerror(errno)))") }
        let length = Int(status.st_size)
        guard length > 0 else { throw TablesError(.truncated, "\(path) is empty") }
        guard let base = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw TablesError(.io, "mmap \(path): \(String(cString: strerror(errno)))")
        }
        let mapping = Mapping(base: base, length: length)
        let snapshot = try TableSnapshot(bytes: UnsafeRawBufferPointer(start: base, count: length), owner: mapping)
        // Validation read every page (the SHA-256 covers the whole file). Drop them from this
        // process's page tables — they stay in the page cache — so its resident set is what
        // lookups touch, not the whole snapshot; a later access is a minor fault.
        _ = madvise(base, length, MADV_DONTNEED)
        return snapshot
    }

    /// Writes `bytes` to `path` atomically and durably.
    public static func write(_ bytes: [UInt8], to path: String) throws(TablesError) {
        let temporary = temporaryPath(for: path)
        try writeFile(bytes, to: temporary)
        try persist(temporary, to: path)
    }

    /// Writes `bytes` beside `path` and opens them from there (mapped, validated), not yet
    /// durable: the snapshot can be served at once and `persist` put in place afterwards, so
    /// the fsync of 54 MB is not between a rack and its new tables. A snapshot that does not
    /// validate is removed and thrown.
    public static func stage(_ bytes: [UInt8], for path: String) throws(TablesError) -> (snapshot: TableSnapshot, temporary: String) {
        let temporary = temporaryPath(for: path)
        try writeFile(bytes, to: temporary)
        return (try openStaged(temporary), temporary)
    }

    /// Opens a staged file another process wrote (`writeStaged`): mapped and validated, or
    /// removed and thrown.
    public static func openStaged(_ temporary: String) throws(TablesError) -> TableSnapshot {
        do {
            return try open(temporary)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Writes `bytes` to a new file at `temporary` (from `temporaryPath(for:)`), neither synced
    /// nor renamed: for a compiler process whose caller opens, checks and persists it.
    public static func writeStaged(_ bytes: [UInt8], to temporary: String) throws(TablesError) {
        try writeFile(bytes, to: temporary)
    }

    /// Makes a staged file durable and renames it to `path` (its mapping stays valid).
    public static func persist(_ temporary: String, to path: String) throws(TablesError) {
        let fd = Glibc.open(temporary, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TablesError(.io, "\(temporary): \(String(cString: strerror(errno)))") }
        let synced = fsync(fd) == 0
        let error = errno
        close(fd)
        guard synced else {
            unlink(temporary)
            throw TablesError(.io, "\(temporary): \(String(cString: strerror(error)))")
        }
        guard rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw TablesError(.io, "rename to \(path): \(String(cString: strerror(error)))")
        }
        // Make the rename itself durable.
        let directoryFD = Glibc.open(split(path).directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Where this process stages a file for `path`; `removeStaged` finds it by its prefix.
    public static func temporaryPath(for path: String) -> String { path + ".tmp.\(getpid())" }

    /// Removes what staging left beside `path` (a process that died between `stage` and
    /// `persist`, any pid); for start-up, before anything is staged.
    public static func removeStaged(for path: String) {
        let (directory, file) = split(path)
        guard let stream = opendir(directory) else { return }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(file + ".tmp.") { unlink(directory + "/" + name) }
        }
    }

    /// The directory a path is in ("." or "/" where it names none) and its last component.
    static func split(_ path: String) -> (directory: String, file: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    /// A new file (never a truncated old one: a staged file left behind may still be mapped).
    private static func writeFile(_ bytes: [UInt8], to temporary: String) throws(TablesError) {
        let fd = try createFile(temporary)
        defer { close(fd) }
        // `withUnsafeBytes` rethrows untyped errors: the typed one comes out as a value.
        let failure = bytes.withUnsafeBytes { raw -> TablesError? in
            do throws(TablesError) {
                try writeAll(raw, to: fd, temporary)
                return nil
            } catch {
                return error
            }
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }

    /// Like `stage`, for bytes that arrive piece by piece (a download): `produce` hands each
    /// piece to the writer it is given, which writes it to the file, so the whole snapshot is
    /// never in this process's memory. If `produce` throws, or the file does not validate, the
    /// file is removed and the error thrown.
    public static func stage(
        for path: String, _ produce: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws -> (snapshot: TableSnapshot, temporary: String) {
        let temporary = temporaryPath(for: path)
        let fd = try createFile(temporary)
        do {
            try produce { piece in try writeAll(piece, to: fd, temporary) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        return (try openStaged(temporary), temporary)
    }

    private static func createFile(_ temporary: String) throws(TablesError) -> Int32 {
        unlink(temporary)
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TablesError(.io, "\(temporary): \(String(cString: strerror(errno)))") }
        return fd
    }

    private static func writeAll(_ raw: UnsafeRawBufferPointer, to fd: Int32, _ temporary: String) throws(TablesError) {
        var written = 0
        while written < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                throw TablesError(.io, "\(temporary): \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }
}
