import Wire

/// What `rackplane loadgen` was asked to do. Every run is bounded: `count` machines at most,
/// `duration` seconds at most.
public struct LoadPlan: Sendable {
    /// The server every stage talks to (DHCP in relay mode, TFTP unless the lease names a
    /// next-server, HTTP, DNS).
    public var server: IPv4Address
    public var count = 100
    /// Machines in flight at once.
    public var concurrency = 256
    /// Arrivals per second; 0: as fast as `concurrency` allows.
    public var rate = 0.0
    /// Seconds after which the run stops, whatever is still in flight (counted as failed).
    public var duration = 300.0
    /// Relay mode: the giaddr written into every request and the address the replies come
    /// back to (port 67). Nil: broadcast mode on `interface`.
    public var relayAddress: IPv4Address?
    /// Broadcast mode: the interface the DHCP socket is bound to (SO_BINDTODEVICE).
    public var interface: String?
    /// Overrides the boot file the server names (TFTP stage).
    public var tftpFile: String?
    /// Paths fetched over HTTP after the boot loader, in order (kernel, initrd).
    public var httpFiles: [String] = ["images/vmlinuz", "images/initrd.gz"]
    public var mix = FirmwareMix.default
    public var stages: Set<Stage> = Set(Stage.allCases)
    /// The first machine's MAC; machine i has this plus i.
    public var firstMAC = MACAddress(0x02_00_00_00_00_01)
    /// Machine i sends host name "PREFIX-" and its MAC in hex (option 12): unique per MAC, so
    /// runs with different --first-mac never claim each other's names.
    public var hostNamePrefix = "lg"
    /// The domain to look names up in when the ACK carries no option 15.
    public var domain: String?
    public var dhcpPort: UInt16 = 67
    public var tftpPort: UInt16 = 69
    public var httpPort: UInt16 = 5248
    public var dnsPort: UInt16 = 53
    /// DHCP and DNS give up after this many seconds; TFTP and HTTP after this long without progress.
    public var stageTimeout = 30.0
    /// Seconds before the first DHCP retransmission; it doubles up to 64 s, each randomized by
    /// ±1 s. 4 is RFC 2131 §4.1's and the PXE specification's first interval.
    public var dhcpRetransmit = 4.0
    /// blksize asked for (nil: a plain RFC 1350 request with 512-byte blocks).
    public var blockSize: UInt16? = 1468
    /// Fetch the boot file from the lease's next-server (siaddr) when it names one, as a ROM does.
    public var followNextServer = true
    /// SO_RCVBUF of each HTTP connection, bytes (0: the kernel's autotuning). Thousands of
    /// machines in one host share its TCP memory: left to autotune (tcp_rmem up to 32 MiB
    /// here), their receive buffers push the kernel into TCP memory pressure, where it drops
    /// segments and transfers stall for seconds — something a room of real machines, each with
    /// its own memory and a boot loader's small window, never does.
    public var httpReceiveBuffer = 256 * 1024

    public init(server: IPv4Address) { self.server = server }

    /// Machine `index`'s MAC address.
    public func mac(of index: Int) -> MACAddress { MACAddress(firstMAC.value &+ UInt64(index)) }

    public func hostName(of index: Int) -> String {
        let hex = String(mac(of: index).value, radix: 16)
        return hostNamePrefix + "-" + String(repeating: "0", count: 12 - hex.count) + hex
    }
}
