import CLinuxShims
import Glibc

/// How to open a UDP socket.
public struct UDPSocketOptions: Sendable {
    public var bind: IPv4Endpoint
    /// Connect to this peer (a TFTP transfer's own socket): only its datagrams arrive.
    public var connect: IPv4Endpoint?
    /// SO_REUSEPORT: several ring threads share the port, the kernel spreads datagrams.
    public var reusePort: Bool
    /// SO_BROADCAST: needed to send to 255.255.255.255 (DHCP replies to clients without an address).
    public var broadcast: Bool
    /// SO_BINDTODEVICE: only this interface's traffic (needs CAP_NET_RAW).
    public var device: String?
    /// IP_PKTINFO: learn the arrival interface and local address, choose them when sending.
    public var packetInfo: Bool
    public var receiveBufferBytes: Int32?
    /// How long a datagram received here may wait for company before it is handled (see
    /// `BatchingWindow`): 0, the default, for anything a client waits on in lock-step.
    public var waitBudgetMicroseconds: UInt32

    public init(bind: IPv4Endpoint, connect: IPv4Endpoint? = nil, reusePort: Bool = false, broadcast: Bool = false,
                device: String? = nil, packetInfo: Bool = true, receiveBufferBytes: Int32? = nil,
                waitBudgetMicroseconds: UInt32 = 0) {
        self.bind = bind
        self.connect = connect
        self.reusePort = reusePort
        self.broadcast = broadcast
        self.device = device
        self.packetInfo = packetInfo
        self.receiveBufferBytes = receiveBufferBytes
        self.waitBudgetMicroseconds = waitBudgetMicroseconds
    }
}

/// How to open a TCP listener.
public struct TCPListenerOptions: Sendable {
    public var bind: IPv4Endpoint
    public var reusePort: Bool
    public var backlog: Int32
    /// Close a connection with no bytes received or sent for this long (0: never).
    public var idleTimeoutMilliseconds: UInt64
    /// Close a connection this long after it was accepted, whatever it is doing (0: never).
    public var totalTimeoutMilliseconds: UInt64

    public init(bind: IPv4Endpoint, reusePort: Bool = false, backlog: Int32 = 1024,
                idleTimeoutMilliseconds: UInt64 = 30_000, totalTimeoutMilliseconds: UInt64 = 0) {
        self.bind = bind
        self.reusePort = reusePort
        self.backlog = backlog
        self.idleTimeoutMilliseconds = idleTimeoutMilliseconds
        self.totalTimeoutMilliseconds = totalTimeoutMilliseconds
    }
}

enum Sockets {
    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, _ call: StaticString) throws(SystemError) {
        var v = value
        _ = try system(call) { setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// A non-blocking, close-on-exec UDP socket configured by `options`.
    static func udp(_ options: UDPSocketOptions) throws(SystemError) -> Int32 {
        let fd = try system("socket(AF_INET, SOCK_DGRAM)") {
            socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do throws(SystemError) {
            // Not for port 0: with SO_REUSEADDR, Linux hands the same ephemeral UDP port to
            // several sockets (seen: 500 binds, 496 ports), and their datagrams get mixed up.
            if options.bind.port != 0 { try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)") }
            if options.reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)") }
            if options.broadcast { try setOption(fd, SOL_SOCKET, SO_BROADCAST, 1, "setsockopt(SO_BROADCAST)") }
            if options.packetInfo { try setOption(fd, Int32(IPPROTO_IP), IP_PKTINFO, 1, "setsockopt(IP_PKTINFO)") }
            if let bytes = options.receiveBufferBytes {
                // SO_RCVBUFFORCE passes net.core.rmem_max where we are allowed to (CAP_NET_ADMIN);
                // otherwise SO_RCVBUF gets as close as the limit lets it.
                if (try? setOption(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes, "setsockopt(SO_RCVBUFFORCE)")) == nil {
                    try setOption(fd, SOL_SOCKET, SO_RCVBUF, bytes, "setsockopt(SO_RCVBUF)")
                }
            }
            if let device = options.device {
                _ = try system("setsockopt(SO_BINDTODEVICE)") {
                    device.withCString { setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, $0, socklen_t(strlen($0))) }
                }
            }
            var address = options.bind.sockaddr
            _ = try system("bind") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            if let peer = options.connect {
                var remote = peer.sockaddr
                _ = try system("connect") {
                    withUnsafePointer(to: &remote) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                    }
                }
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// A non-blocking TCP listener.
    static func tcpListener(_ options: TCPListenerOptions) throws(SystemError) -> Int32 {
        let fd = try system("socket(AF_INET, SOCK_STREAM)") {
            socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do throws(SystemError) {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)")
            if options.reusePort { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)") }
            var address = options.bind.sockaddr
            _ = try system("bind") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            _ = try system("listen") { Glibc.listen(fd, options.backlog) }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// An AF_PACKET socket that sends whole Ethernet frames (RFC 2131 §4.1 L2 unicast).
    /// Needs CAP_NET_RAW.
    static func packet() throws(SystemError) -> Int32 {
        try system("socket(AF_PACKET, SOCK_RAW)") {
            socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
    }

    /// The local port a socket is bound to (after binding port 0).
    static func localEndpoint(_ fd: Int32) throws(SystemError) -> IPv4Endpoint {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = try system("getsockname") {
            withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
        }
        return IPv4Endpoint(address)
    }

    /// The index of a network interface by name, or nil.
    public static func interfaceIndex(_ name: String) -> Int32? {
        let index = if_nametoindex(name)
        return index == 0 ? nil : Int32(index)
    }
}

/// Public helpers for services: interface lookups.
public enum NetworkInterfaces {
    public static func index(of name: String) -> Int32? { Sockets.interfaceIndex(name) }
}
