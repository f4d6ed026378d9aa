import Glibc

/// A journal operation that failed: the call, the errno it left (0 for a format problem, which
/// `reason` then names) and the file or directory it was working on.
public struct JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// A system call failed; see `errno`.
        case system
        /// The file does not start with the journal's magic: not ours, so never overwritten.
        case notAJournal
        /// A journal written by a newer format.
        case unsupportedVersion(UInt32)
        /// The header is shorter than a header or fails its checksum. A journal is created
        /// whole by rename, so this is damage, not a torn write, and is not repaired silently.
        case damagedHeader
    }

    public let call: String
    public let errno: Int32
    public let path: String
    public let reason: Reason

    public init(call: String, errno: Int32, path: String, reason: Reason = .system) {
        self.call = call
        self.errno = errno
        self.path = path
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .system: "\(call) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
        case .notAJournal: "\(call) \(path): not a lease journal (bad magic)"
        case .unsupportedVersion(let version): "\(call) \(path): unsupported journal version \(version)"
        case .damagedHeader: "\(call) \(path): journal header is damaged"
        }
    }
}

/// Runs a system call: retries `EINTR`, turns -1 into `JournalError`, and treats `EBADF` and
/// `EFAULT` as bugs of ours (a closed descriptor or a bad pointer), not conditions to handle.
@inline(__always)
func system<T: FixedWidthInteger>(_ call: StaticString, _ path: String, _ body: () -> T) throws(JournalError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let error = Glibc.errno
        if error == EINTR { continue }
        precondition(error != EBADF && error != EFAULT, "\(call) \(path) failed with errno \(error): a bug")
        throw JournalError(call: call.description, errno: error, path: path)
    }
}
