import Glibc

/// A failed system call: which call and the errno it left.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public let errno: Int32
    public let call: String

    public init(errno: Int32, call: String) {
        self.errno = errno
        self.call = call
    }

    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Runs a system call: retries `EINTR`, turns -1 into `SystemError`, and treats `EBADF` and
/// `EFAULT` as bugs of ours (a closed descriptor or a bad pointer), not conditions to handle.
@inline(__always)
func system<T: FixedWidthInteger>(_ call: StaticString, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let error = Glibc.errno
        if error == EINTR { continue }
        precondition(error != EBADF && error != EFAULT, "\(call) failed with errno \(error): a bug")
        throw SystemError(errno: error, call: call.description)
    }
}

/// The same for calls that return 0 on success and a negative errno on failure (liburing).
@inline(__always)
func negativeErrno(_ call: StaticString, _ result: Int32) throws(SystemError) {
    guard result < 0 else { return }
    throw SystemError(errno: -result, call: call.description)
}
