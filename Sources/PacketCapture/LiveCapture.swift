import CLibPcap
import Glibc

/// A live capture on an interface written straight to a pcap file (libpcap's own dumper, so
/// tcpdump, tshark and `rackplane pcap decode` read it), bounded by a packet count and a time.
public final class LiveCapture {
    public struct CaptureError: Error, CustomStringConvertible {
        public let description: String
    }

    private let handle: OpaquePointer
    private let dumper: OpaquePointer
    private let selectable: Int32
    /// The link type written in the file's header (`LINKTYPE_*`).
    public let linkType: Int32
    public private(set) var packets = 0

    /// Opens `interface` ("any" for all of them) and creates `path`.
    /// - Parameters:
    ///   - filter: a BPF expression (tcpdump syntax), or nil for every packet.
    ///   - snapshotLength: bytes kept of each packet.
    public init(interface: String, path: String, filter: String?, snapshotLength: Int32 = 65535) throws(CaptureError) {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(interface, &errorBuffer) else {
            throw CaptureError(description: "\(interface): \(errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })")
        }
        func failure(_ what: String) -> CaptureError {
            let message = CaptureError(description: "\(interface): \(what): \(String(cString: pcap_geterr(handle)))")
            pcap_close(handle)
            return message
        }
        _ = pcap_set_snaplen(handle, snapshotLength)
        _ = pcap_set_promisc(handle, 0)
        // Deliver each packet at once instead of filling a buffer block first: a short capture
        // of a quiet link still ends on time with everything in it.
        _ = pcap_set_immediate_mode(handle, 1)
        _ = pcap_set_buffer_size(handle, 16 << 20)
        let activated = pcap_activate(handle)
        if activated < 0 {
            let reason = activated == PCAP_ERROR_PERM_DENIED ? "permission denied (capturing needs root or CAP_NET_RAW)"
                : activated == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface" : String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw CaptureError(description: "\(interface): \(reason)")
        }
        if let filter {
            var program = bpf_program()
            guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else { throw failure("filter '\(filter)'") }
            defer { pcap_freecode(&program) }
            guard pcap_setfilter(handle, &program) == 0 else { throw failure("filter '\(filter)'") }
        }
        guard pcap_setnonblock(handle, 1, &errorBuffer) == 0 else { throw failure("non-blocking mode") }
        let fd = pcap_get_selectable_fd(handle)
        guard fd >= 0 else { throw failure("selectable descriptor") }
        guard let dumper = pcap_dump_open(handle, path) else { throw failure("cannot create \(path)") }
        self.handle = handle
        self.dumper = dumper
        self.selectable = fd
        linkType = pcap_datalink(handle)
    }

    deinit {
        pcap_dump_close(dumper)
        pcap_close(handle)
    }

    /// Captures until `maximumPackets` are written (nil: no limit), `seconds` pass, or
    /// `shouldStop` returns true (polled at least every 100 ms). Returns the packets written.
    @discardableResult
    public func capture(maximumPackets: Int?, seconds: Double, shouldStop: () -> Bool) throws(CaptureError) -> Int {
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        func elapsed() -> Double {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            return Double(now.tv_sec - start.tv_sec) + Double(now.tv_nsec - start.tv_nsec) / 1e9
        }
        let user = UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self)
        while !shouldStop() {
            if let maximumPackets, packets >= maximumPackets { break }
            let left = seconds - elapsed()
            if left <= 0 { break }
            var wanted = pollfd(fd: selectable, events: Int16(POLLIN), revents: 0)
            _ = poll(&wanted, 1, Int32(min(100, max(1, left * 1000))))
            let budget = maximumPackets.map { Int32(clamping: $0 - packets) } ?? -1
            // pcap_dump has exactly pcap_handler's signature: libpcap writes each packet itself.
            let count = pcap_dispatch(handle, budget, pcap_dump, user)
            if count < 0 {
                if count == PCAP_ERROR_BREAK { break }
                throw CaptureError(description: String(cString: pcap_geterr(handle)))
            }
            packets += Int(count)
        }
        pcap_dump_flush(dumper)
        return packets
    }
}
