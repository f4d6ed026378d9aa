import Wire

/// One simulated machine's progress through its boot: which stage it is in and the protocol
/// state of that stage. A reference type so the driver mutates it in place.
final class SimulatedMachine {
    enum Phase: Equatable {
        case pending
        case running(Stage)
        case booted
        case failed
    }

    let index: Int
    let mac: MACAddress
    let firmware: Firmware
    let hostName: String
    var phase = Phase.pending
    var startedAt: UInt64 = 0
    var stageStartedAt: UInt64 = 0
    /// Last time the stage made progress (TFTP and HTTP time out on silence, not length).
    var lastProgressAt: UInt64 = 0
    /// Retransmissions of the current message with no progress since.
    var retries = 0
    /// Interval before the next retransmission (DHCP backs off).
    var retransmitInterval: UInt64 = 0

    var dhcp: DHCPClientExchange
    /// NAKs received (each restarts the exchange).
    var naks = 0
    var lease: DHCPClientLease?
    var tftp: TFTPClientTransfer?
    var tftpServer = IPv4Address.any
    var http: HTTPClientExchange?
    var httpConnected = false
    /// Bytes of the current request not yet written (a full socket buffer).
    var pendingRequest: [UInt8] = []
    var dns: DNSLookup?
    /// Why the last DNS attempt did not succeed, reported if the stage times out.
    var dnsLastOutcome = "timeout"
    /// Paths for the HTTP stage (the iPXE script first when the ACK named a URL).
    var httpPaths: [String] = []

    /// The socket the current stage uses (UDP for TFTP and DNS, TCP for HTTP), or -1.
    var descriptor: Int32 = -1
    /// Bumped on every new descriptor, so readiness reported for a closed one is recognised.
    var descriptorGeneration: UInt32 = 0

    init(index: Int, mac: MACAddress, firmware: Firmware, hostName: String, xid: UInt32, relay: IPv4Address?, broadcast: Bool) {
        self.index = index
        self.mac = mac
        self.firmware = firmware
        self.hostName = hostName
        dhcp = DHCPClientExchange(mac: mac, xid: xid, firmware: firmware, hostName: hostName, relayAddress: relay, broadcastReplies: broadcast)
    }

    var stage: Stage? {
        if case .running(let stage) = phase { return stage }
        return nil
    }
}
