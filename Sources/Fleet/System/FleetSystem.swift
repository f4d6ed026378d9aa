import CLinuxShims
import Glibc
import Wire

/// A failed system call: which call and the errno it left.
public struct FleetSystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// The thin syscall layer of the load generator: every call retries EINTR and turns -1 into a
/// `FleetSystemError`; sockets are non-blocking and close-on-exec.
enum FleetSystem {
    @inline(__always)
    static func call<T: FixedWidthInteger>(_ name: @autoclosure () -> String, _ body: () -> T) throws(FleetSystemError) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let error = Glibc.errno
            if error == EINTR { continue }
            throw FleetSystemError(name(), errno: error)
        }
    }

    /// IP_BIND_ADDRESS_NO_PORT (<linux/in.h>, Linux 4.2), which the Glibc module leaves out.
    static let ipBindAddressNoPort: Int32 = 24

    /// Nanoseconds on the monotonic clock.
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    static func socketAddress(_ address: IPv4Address, _ port: UInt16) -> sockaddr_in {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr.s_addr = address.value.bigEndian
        return sa
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ call: StaticString) throws(FleetSystemError) {
        var v = value
        _ = try FleetSystem.call(call.description) { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// A UDP socket bound to `address:port`. `reuseAddress` for fixed ports (67, 68) only:
    /// with SO_REUSEADDR Linux may hand one ephemeral port to several sockets.
    static func udpSocket(bind address: IPv4Address, port: UInt16, broadcast: Bool = false, device: String? = nil,
                          receiveBuffer: Int32? = nil) throws(FleetSystemError) -> Int32 {
        let fd = try call("socket(AF_INET, SOCK_DGRAM)") {
            socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do throws(FleetSystemError) {
            if port != 0 { try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)") }
            if broadcast { try setOption(fd, SOL_SOCKET, SO_BROADCAST, 1, "setsockopt(SO_BROADCAST)") }
            if let receiveBuffer {
                if (try? setOption(fd, SOL_SOCKET, SO_RCVBUFFORCE, receiveBuffer, "setsockopt(SO_RCVBUFFORCE)")) == nil {
                    try setOption(fd, SOL_SOCKET, SO_RCVBUF, receiveBuffer, "setsockopt(SO_RCVBUF)")
                }
            }
            if let device {
                _ = try call("setsockopt(SO_BINDTODEVICE)") {
                    device.withCString { setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, $0, socklen_t(strlen($0))) }
                }
            }
            try bindSocket(fd, address, port)
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    static func bindSocket(_ fd: Int32, _ address: IPv4Address, _ port: UInt16) throws(FleetSystemError) {
        var sa = socketAddress(address, port)
        _ = try call("bind(\(address):\(port))") {
            withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    /// A non-blocking TCP connect, bound first to `source` when given. Returns the descriptor
    /// with the connection in progress (EPOLLOUT says when it is done).
    /// - Parameter receiveBuffer: SO_RCVBUF, set before connecting so the window scale fits it.
    static func tcpConnect(to address: IPv4Address, port: UInt16, source: IPv4Address?, receiveBuffer: Int32? = nil) throws(FleetSystemError) -> Int32 {
        let fd = try call("socket(AF_INET, SOCK_STREAM)") {
            socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do throws(FleetSystemError) {
            try setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)")
            if let receiveBuffer { try setOption(fd, SOL_SOCKET, SO_RCVBUF, receiveBuffer, "setsockopt(SO_RCVBUF)") }
            if let source {
                // Port chosen at connect time, so many sources share the ephemeral range.
                try setOption(fd, Int32(IPPROTO_IP), ipBindAddressNoPort, 1, "setsockopt(IP_BIND_ADDRESS_NO_PORT)")
                try bindSocket(fd, source, 0)
            }
            var sa = socketAddress(address, port)
            let result = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if result != 0, errno != EINPROGRESS {
                throw FleetSystemError("connect(\(address):\(port))", errno: errno)
            }
            return fd
        } catch {
            close(fd)
            throw error
        }
    }

    /// The pending error of a socket (SO_ERROR): 0 once a non-blocking connect succeeded.
    static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return errno }
        return value
    }

    /// Sends a datagram; returns 0 or the errno (EAGAIN when the socket buffer is full).
    @discardableResult
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, to address: IPv4Address, port: UInt16) -> Int32 {
        var sa = socketAddress(address, port)
        while true {
            let sent = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if sent >= 0 { return 0 }
            if errno == EINTR { continue }
            return errno
        }
    }

    /// One datagram into `buffer`: its length and sender, or nil when none is waiting.
    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, address: IPv4Address, port: UInt16)? {
        var sa = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        while true {
            let count = withUnsafeMutablePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buffer.baseAddress, buffer.count, 0, $0, &length) }
            }
            if count >= 0 {
                return (count, IPv4Address(UInt32(bigEndian: sa.sin_addr.s_addr)), UInt16(bigEndian: sa.sin_port))
            }
            if errno == EINTR { continue }
            return nil
        }
    }

    /// Raises the soft descriptor limit to the hard one; returns the limit now in force.
    static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(min(limit.rlim_cur, 1 << 30))
    }
}
