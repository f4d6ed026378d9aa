import Glibc

/// Plain blocking Glibc sockets for live engine tests on loopback. Every receive has a timeout
/// (SO_RCVTIMEO), so a broken engine fails a test instead of hanging it.

/// A failed system call in a test client.
struct LoopbackError: Error, CustomStringConvertible {
    let call: String
    let errno: Int32
    var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

enum Loopback {
    /// 127.0.0.1 in host order, as `IPv4Endpoint.address` holds it.
    static let address: UInt32 = 0x7F00_0001

    static func socketAddress(_ address: UInt32, port: UInt16) -> sockaddr_in {
        var s = sockaddr_in()
        s.sin_family = sa_family_t(AF_INET)
        s.sin_port = port.bigEndian
        s.sin_addr.s_addr = address.bigEndian
        return s
    }

    static func setReceiveTimeout(_ fd: Int32, milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func bind(_ fd: Int32, address: UInt32, port: UInt16) -> Int32 {
        var s = socketAddress(address, port: port)
        return withUnsafePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    static func localPort(_ fd: Int32) -> UInt16 {
        var s = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &s) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: s.sin_port)
    }

    /// A port that was free a moment ago (for tests that need the same port on several rings).
    static func freeUDPPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackError(call: "socket", errno: errno) }
        defer { close(fd) }
        guard bind(fd, address: address, port: 0) == 0 else { throw LoopbackError(call: "bind", errno: errno) }
        return localPort(fd)
    }

    /// Whether a UDP port on 127.0.0.1 can be bound without SO_REUSEADDR/SO_REUSEPORT, i.e.
    /// nobody holds it any more.
    static func udpPortIsFree(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return bind(fd, address: address, port: port) == 0
    }

    /// Milliseconds on CLOCK_MONOTONIC.
    static func milliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}

/// A UDP socket bound to 127.0.0.1 (an ephemeral port unless given).
final class UDPClient {
    let fd: Int32
    let port: UInt16

    init(port: UInt16 = 0, receiveTimeoutMilliseconds: Int = 2000, receiveBufferBytes: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LoopbackError(call: "socket", errno: errno) }
        if var bytes = receiveBufferBytes {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        }
        guard Loopback.bind(fd, address: Loopback.address, port: port) == 0 else {
            let error = errno
            close(fd)
            throw LoopbackError(call: "bind", errno: error)
        }
        Loopback.setReceiveTimeout(fd, milliseconds: receiveTimeoutMilliseconds)
        self.port = Loopback.localPort(fd)
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8], to port: UInt16, address: UInt32 = Loopback.address) throws {
        var destination = Loopback.socketAddress(address, port: port)
        let sent = bytes.withUnsafeBytes { payload in
            withUnsafePointer(to: &destination) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, payload.baseAddress, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == bytes.count else { throw LoopbackError(call: "sendto", errno: errno) }
    }

    /// The next datagram and the port it came from, or nil when the receive timeout passes.
    func receive(capacity: Int = 65_536) -> (bytes: [UInt8], port: UInt16, address: UInt32)? {
        var source = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        var buffer = [UInt8](repeating: 0, count: capacity)
        let received = buffer.withUnsafeMutableBytes { bytes in
            withUnsafeMutablePointer(to: &source) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, bytes.baseAddress, bytes.count, 0, $0, &length) }
            }
        }
        guard received >= 0 else { return nil }
        return (Array(buffer[0..<received]), UInt16(bigEndian: source.sin_port), UInt32(bigEndian: source.sin_addr.s_addr))
    }
}

/// A TCP connection to 127.0.0.1.
final class TCPClient {
    let fd: Int32

    init(port: UInt16, address: UInt32 = Loopback.address, receiveTimeoutMilliseconds: Int = 2000) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LoopbackError(call: "socket", errno: errno) }
        Loopback.setReceiveTimeout(fd, milliseconds: receiveTimeoutMilliseconds)
        var destination = Loopback.socketAddress(address, port: port)
        let result = withUnsafePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let error = errno
            close(fd)
            throw LoopbackError(call: "connect", errno: error)
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw LoopbackError(call: "send", errno: errno) }
            offset += sent
        }
    }

    /// Reads until the peer closes (`eof`), `limit` bytes arrive, a receive times out, or
    /// `deadlineMilliseconds` pass; `error` is the errno that stopped it, if any.
    func readAll(limit: Int = Int.max, deadlineMilliseconds: UInt64 = 10_000) -> (bytes: [UInt8], eof: Bool, error: Int32?) {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let deadline = Loopback.milliseconds() + deadlineMilliseconds
        while bytes.count < limit && Loopback.milliseconds() < deadline {
            let wanted = min(chunk.count, limit - bytes.count)
            let received = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, wanted, 0) }
            if received == 0 { return (bytes, true, nil) }
            if received < 0 {
                if errno == EINTR { continue }
                return (bytes, false, errno)
            }
            bytes.append(contentsOf: chunk[0..<received])
        }
        return (bytes, false, nil)
    }
}
