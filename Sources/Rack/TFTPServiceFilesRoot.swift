import CLinuxShims
import Glibc
import Responders

/// The files root as an open directory, and the one way the file services open what a client
/// named: relative to that descriptor, never by joining strings, so a symbolic link inside the
/// root cannot lead outside it.
///
/// `TFTPPathResolver` has already refused "..", NUL and over-long names and made the path
/// relative; what it cannot see is links. Here:
/// - `openat2(root, path, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` (Linux 5.6): the kernel fails
///   any resolution that leaves the root (`EXDEV`), absolute link targets included; links that
///   stay inside are followed.
/// - Where `openat2` is missing (`ENOSYS`, or a seccomp filter that says so) every component is
///   opened with `O_NOFOLLOW`: no link is followed at all, even one that stays inside.
///
/// Either way the caller gets the same verdicts, so a client cannot tell which check ran.
final class FilesRoot {
    /// The root's path as configured (the site file's `files:`).
    let path: String
    let descriptor: Int32
    /// False once `openat2` said ENOSYS (or when forced off for tests by
    /// `RACKPLANE_NO_OPENAT2=1`): the component walk is used from then on.
    private(set) var usesOpenat2: Bool

    enum Failure: Error, Equatable {
        /// No such file (ENOENT, ENOTDIR, a directory): TFTP error 1.
        case notFound
        /// The path (through a link) leaves the root: access violation.
        case outsideRoot
        /// A device, FIFO or socket: access violation.
        case notRegularFile
        /// EACCES/EPERM: access violation.
        case permissionDenied
        /// Any other errno.
        case failed(Int32)
    }

    /// Opens the root directory; nil (with errno) if it cannot be opened.
    init?(path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        self.path = path
        self.descriptor = fd
        usesOpenat2 = getenv("RACKPLANE_NO_OPENAT2") == nil
    }

    deinit { close(descriptor) }

    /// Opens the regular file at `relative` (a `TFTPPathResolver` result: `length` bytes
    /// followed by a NUL) read-only. Returns the descriptor and the file's size.
    /// Opens a regular file beneath the root; returns it with its `fstat` (size, inode and
    /// modification time serve both TFTP's tsize and HTTP's validators without a second call).
    func openFile(_ relative: UnsafeRawBufferPointer) -> Result<(descriptor: Int32, status: stat), Failure> {
        precondition(relative.count > 0 && relative.last == 0, "a NUL-terminated path")
        let opened: Result<Int32, Failure>
        if usesOpenat2 {
            let fd = rp_openat2(descriptor, relative.baseAddress!.assumingMemoryBound(to: CChar.self),
                                UInt64(O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), 0,
                                RP_RESOLVE_BENEATH | RP_RESOLVE_NO_MAGICLINKS)
            if fd < 0, errno == ENOSYS {
                usesOpenat2 = false
                return openFile(relative)
            }
            opened = fd >= 0 ? .success(fd) : .failure(Self.failure(errno))
        } else {
            opened = walk(relative)
        }
        switch opened {
        case .failure(let failure):
            return .failure(failure)
        case .success(let fd):
            var status = stat()
            guard fstat(fd, &status) == 0 else {
                let error = errno
                close(fd)
                return .failure(.failed(error))
            }
            let type = status.st_mode & S_IFMT
            guard type == S_IFREG else {
                close(fd)
                return .failure(type == S_IFDIR ? .notFound : .notRegularFile)
            }
            return .success((fd, status))
        }
    }

    /// The fallback: each directory opened with `O_NOFOLLOW | O_DIRECTORY` beneath the last,
    /// the file with `O_NOFOLLOW`.
    private func walk(_ relative: UnsafeRawBufferPointer) -> Result<Int32, Failure> {
        var directory = descriptor
        defer { if directory != descriptor { close(directory) } }
        var start = 0
        let end = relative.count - 1  // the NUL
        var component = [CChar](repeating: 0, count: 256)
        while start < end {
            var stop = start
            while stop < end, relative[stop] != UInt8(ascii: "/") { stop += 1 }
            let count = stop - start
            guard count < component.count else { return .failure(.notFound) }
            for i in 0..<count { component[i] = CChar(bitPattern: relative[start + i]) }
            component[count] = 0
            let last = stop == end
            let flags = last ? O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW
                             : O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW
            let fd = openat(directory, component, flags)
            if fd < 0 {
                let error = errno
                // O_NOFOLLOW | O_DIRECTORY on a link says ENOTDIR, not ELOOP: look at what it is.
                if error == ENOTDIR || error == ELOOP {
                    var status = stat()
                    if fstatat(directory, component, &status, AT_SYMLINK_NOFOLLOW) == 0, status.st_mode & S_IFMT == S_IFLNK {
                        return .failure(.outsideRoot)
                    }
                }
                return .failure(Self.failure(error))
            }
            if last { return .success(fd) }
            if directory != descriptor { close(directory) }
            directory = fd
            start = stop + 1
        }
        return .failure(.notFound)
    }

    private static func failure(_ error: Int32) -> Failure {
        switch error {
        case ENOENT, ENOTDIR, ENAMETOOLONG: .notFound
        // EXDEV: RESOLVE_BENEATH refused a step out of the root; ELOOP: a magic link, a link
        // loop, or (O_NOFOLLOW) a link at all.
        case EXDEV, ELOOP: .outsideRoot
        case EACCES, EPERM: .permissionDenied
        default: .failed(error)
        }
    }
}

/// The bytes one transfer serves: a read-only shared mapping of a file (DATA blocks go out as
/// a second iovec straight from it), a buffer of rendered or netascii-converted bytes, or
/// nothing (an empty file). Released late, after its transfer's socket is gone — see
/// `TFTPService.retire`.
enum TFTPTransferBytes {
    case mapping(UnsafeRawBufferPointer)
    case buffer(UnsafeMutableRawBufferPointer)
    case empty

    var bytes: UnsafeRawBufferPointer {
        switch self {
        case .mapping(let bytes): bytes
        case .buffer(let buffer): UnsafeRawBufferPointer(buffer)
        case .empty: UnsafeRawBufferPointer(start: nil, count: 0)
        }
    }

    /// Maps `size` bytes of `descriptor` (which the caller still closes); nil if mmap fails.
    static func map(_ descriptor: Int32, size: Int) -> TFTPTransferBytes? {
        guard size > 0 else { return .empty }
        guard let base = mmap(nil, size, PROT_READ, MAP_SHARED, descriptor, 0),
              base != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
        // Blocks are read front to back: ask for aggressive readahead on the faults the kernel
        // takes while copying them into datagrams.
        _ = madvise(base, size, MADV_SEQUENTIAL)
        return .mapping(UnsafeRawBufferPointer(start: base, count: size))
    }

    /// A copy of `source`, converted to netascii when asked.
    static func copy(_ source: UnsafeRawBufferPointer, netascii: Bool) -> TFTPTransferBytes {
        let count = netascii ? Int(TFTPNetascii.encodedCount(source)) : source.count
        guard count > 0 else { return .empty }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        if netascii {
            _ = TFTPNetascii.encode(source, into: buffer)
        } else {
            buffer.copyMemory(from: source)
        }
        return .buffer(buffer)
    }

    func release() {
        switch self {
        case .mapping(let bytes): munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        case .buffer(let buffer): buffer.deallocate()
        case .empty: break
        }
    }
}
