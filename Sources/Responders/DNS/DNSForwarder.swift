import Wire

/// Where a forwarded query came from, so the answer can go back the same way.
public struct DNSClient: Equatable, Sendable {
    public var address: UInt32
    public var port: UInt16
    /// The local address and interface the query arrived on (UDP), for the reply's source.
    public var localAddress: UInt32
    public var interfaceIndex: Int32
    /// The service's handle of a TCP connection, or nil for UDP.
    public var connection: UInt64?

    public init(address: UInt32, port: UInt16, localAddress: UInt32 = 0, interfaceIndex: Int32 = 0, connection: UInt64? = nil) {
        self.address = address
        self.port = port
        self.localAddress = localAddress
        self.interfaceIndex = interfaceIndex
        self.connection = connection
    }
}

/// Forwarding for names outside our zones, for clients allowed recursion: the query goes to an
/// upstream server under a fresh random ID, the answer comes back to the client under its own,
/// and answers are cached for as long as their TTLs allow (RFC 1035 §7.4, RFC 2308 §5 for
/// negative answers). Policy only: the service sends and receives.
///
/// An upstream answer is accepted only from the server asked, from port 53, with a pending ID
/// and the same question, so an off-path attacker must guess a 16-bit ID and the source port.
public final class DNSForwarder {
    public enum Step: Equatable {
        /// Send `length` bytes of the output to the client (from the cache, or SERVFAIL).
        case reply(length: Int)
        /// Send `length` bytes of the output to `upstream`, port 53.
        case send(length: Int, upstream: IPv4Address)
    }

    struct Pending {
        var client: DNSClient
        var clientID: UInt16
        /// The client's query, kept for a retry and for a SERVFAIL.
        var query: [UInt8]
        var key: [UInt8]
        var upstream: Int
        var sentAt: UInt64
        var retried: Bool
    }

    struct CacheEntry {
        var response: [UInt8]
        var storedAt: UInt64
        var expiresAt: UInt64
    }

    var pending: [UInt16: Pending] = [:]
    var cache: [[UInt8]: CacheEntry] = [:]
    public var maxPending = 4096
    public var maxCacheEntries = 10_000
    /// A cached answer lives at most this long, whatever its TTL says.
    public var maxCacheSeconds: UInt32 = 3600
    /// How long an upstream has to answer before the next one is tried (once).
    public var timeoutMilliseconds: UInt64 = 2000
    public private(set) var counters = DNSCounters()

    public init() {}

    public var pendingCount: Int { pending.count }
    public var cacheCount: Int { cache.count }

    /// The cache key: the question's name in lower case, type, class, and whether the client
    /// speaks EDNS (an answer with OPT must not reach a client that sent none).
    static func key(_ query: UnsafeRawBufferPointer, _ info: DNSQueryInfo) -> [UInt8] {
        var key = [UInt8](query[DNSHeader.size..<info.questionEnd])
        for i in 0..<key.count where key[i] >= 0x41 && key[i] <= 0x5A { key[i] |= 0x20 }
        key.append(info.hasEDNS ? 1 : 0)
        return key
    }

    /// A query the responder handed over: answered from the cache, or sent upstream.
    public func forward(_ query: UnsafeRawBufferPointer, info: DNSQueryInfo, client: DNSClient, upstreams: [IPv4Address],
                        now: UInt64, into out: UnsafeMutableRawBufferPointer) -> Step {
        let key = Self.key(query, info)
        if let entry = cache[key] {
            if entry.expiresAt > now, entry.response.count <= out.count {
                counters.cacheHits &+= 1
                return .reply(length: Self.copy(entry, id: info.id, now: now, into: out))
            }
            cache[key] = nil
        }
        guard !upstreams.isEmpty, pending.count < maxPending, query.count <= out.count else {
            return .reply(length: Self.serverFailure(Array(query), info: info, into: out))
        }
        var id = UInt16.random(in: 0...UInt16.max)
        while pending[id] != nil { id = UInt16.random(in: 0...UInt16.max) }
        let upstream = Int(id) % upstreams.count
        pending[id] = Pending(client: client, clientID: info.id, query: Array(query), key: key, upstream: upstream,
                              sentAt: now, retried: false)
        counters.forwarded &+= 1
        out.copyMemory(from: query)
        out[0] = UInt8(id >> 8)
        out[1] = UInt8(id & 0xFF)
        return .send(length: query.count, upstream: upstreams[upstream])
    }

    /// An upstream's answer: checked, cached, and turned back into the client's.
    public func received(_ response: UnsafeRawBufferPointer, fromAddress: UInt32, fromPort: UInt16, upstreams: [IPv4Address],
                         now: UInt64, into out: UnsafeMutableRawBufferPointer) -> (DNSClient, Int)? {
        guard response.count >= DNSHeader.size, response.count <= out.count, fromPort == 53 else { return nil }
        let id = UInt16(response[0]) << 8 | UInt16(response[1])
        guard let entry = pending[id], entry.upstream < upstreams.count, upstreams[entry.upstream].value == fromAddress,
              response[2] & 0x80 != 0,
              let message = try? DNSMessage(parsing: response), message.header.questionCount == 1
        else { return nil }
        let questionEnd = message.recordsOffset
        var question = [UInt8](response[DNSHeader.size..<questionEnd])
        for i in 0..<question.count where question[i] >= 0x41 && question[i] <= 0x5A { question[i] |= 0x20 }
        guard question.elementsEqual(entry.key.dropLast()) else { return nil }
        pending[id] = nil
        out.copyMemory(from: response)
        out[0] = UInt8(entry.clientID >> 8)
        out[1] = UInt8(entry.clientID & 0xFF)
        // Our answer, not the upstream's: recursion available, not authoritative.
        out[2] &= ~0x04
        out[3] |= 0x80
        if let ttl = Self.cacheSeconds(message), ttl > 0 {
            if cache.count >= maxCacheEntries { evict(now: now) }
            var stored = Array(UnsafeRawBufferPointer(rebasing: out[0..<response.count]))
            stored[0] = 0
            stored[1] = 0
            cache[entry.key] = CacheEntry(response: stored, storedAt: now, expiresAt: now + UInt64(min(ttl, maxCacheSeconds)) * 1000)
        }
        return (entry.client, response.count)
    }

    /// Queries whose upstream is late: each is sent once more to the next upstream, then given
    /// SERVFAIL. `retry` and `fail` write into `out` and send.
    public func expire(now: UInt64, upstreams: [IPv4Address], out: UnsafeMutableRawBufferPointer,
                       retry: (Int, IPv4Address) -> Void, fail: (DNSClient, Int) -> Void) {
        let late = pending.filter { now >= $0.value.sentAt + timeoutMilliseconds }.keys.sorted()
        for id in late {
            guard var entry = pending[id] else { continue }
            counters.upstreamTimeouts &+= 1
            if !entry.retried, upstreams.count > 1, entry.query.count <= out.count {
                entry.retried = true
                entry.upstream = (entry.upstream + 1) % upstreams.count
                entry.sentAt = now
                pending[id] = entry
                entry.query.withUnsafeBytes { out.copyMemory(from: $0) }
                out[0] = UInt8(id >> 8)
                out[1] = UInt8(id & 0xFF)
                retry(entry.query.count, upstreams[entry.upstream])
                continue
            }
            pending[id] = nil
            let info = DNSQueryInfo(id: entry.clientID, flags: 0, questionEnd: DNSHeader.size + entry.key.count - 1, type: 0,
                                    dnsClass: 0, hasEDNS: entry.key.last == 1, udpLimit: 512)
            fail(entry.client, Self.serverFailure(entry.query, info: info, into: out))
        }
    }

    /// SERVFAIL with the client's question (and an OPT if it sent one).
    static func serverFailure(_ query: [UInt8], info: DNSQueryInfo, into out: UnsafeMutableRawBufferPointer) -> Int {
        let questionEnd = min(info.questionEnd, query.count)
        let flags = (query.count > 3 ? UInt16(query[2]) << 8 | UInt16(query[3]) : 0) & 0x7910 | 0x8082
        var bytes: [UInt8] = [UInt8(info.id >> 8), UInt8(info.id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF),
                              0, questionEnd > DNSHeader.size ? 1 : 0, 0, 0, 0, 0, 0, info.hasEDNS ? 1 : 0]
        if questionEnd > DNSHeader.size { bytes += query[DNSHeader.size..<questionEnd] }
        if info.hasEDNS { bytes += [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0] }
        let length = min(bytes.count, out.count)
        bytes.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        return length
    }

    /// How long an answer may be cached: its smallest TTL, or for NXDOMAIN/NODATA the SOA's
    /// negative TTL; nil for anything else (SERVFAIL, REFUSED, truncated).
    static func cacheSeconds(_ message: DNSMessage) -> UInt32? {
        let rcode = message.header.rcode
        guard rcode == 0 || rcode == 3, !message.header.tc else { return nil }
        var smallest: UInt32?
        var records = message.records
        while let record = try? records.next() {
            guard record.type != .opt else { continue }
            var ttl = record.ttl
            if record.type == .soa, record.section == .authority, record.rdataLength >= 20 {
                let at = record.end - 4
                let minimum = UInt32(message.bytes[at]) << 24 | UInt32(message.bytes[at + 1]) << 16
                    | UInt32(message.bytes[at + 2]) << 8 | UInt32(message.bytes[at + 3])
                ttl = min(ttl, minimum)
            }
            smallest = min(smallest ?? ttl, ttl)
        }
        return smallest
    }

    /// A cached answer with the client's ID and every TTL lowered by the time it spent here.
    static func copy(_ entry: CacheEntry, id: UInt16, now: UInt64, into out: UnsafeMutableRawBufferPointer) -> Int {
        let elapsed = UInt32(min((now - entry.storedAt) / 1000, UInt64(UInt32.max)))
        entry.response.withUnsafeBytes { out.copyMemory(from: $0) }
        out[0] = UInt8(id >> 8)
        out[1] = UInt8(id & 0xFF)
        let view = UnsafeRawBufferPointer(rebasing: out[0..<entry.response.count])
        if elapsed > 0, let message = try? DNSMessage(parsing: view) {
            var records = message.records
            while let record = try? records.next() {
                guard record.type != .opt else { continue }
                let at = record.rdataOffset - 6
                let ttl = record.ttl > elapsed ? record.ttl - elapsed : 0
                out[at] = UInt8(ttl >> 24)
                out[at + 1] = UInt8(ttl >> 16 & 0xFF)
                out[at + 2] = UInt8(ttl >> 8 & 0xFF)
                out[at + 3] = UInt8(ttl & 0xFF)
            }
        }
        return entry.response.count
    }

    /// Makes room: expired entries go first, then the oldest tenth.
    func evict(now: UInt64) {
        cache = cache.filter { $0.value.expiresAt > now }
        guard cache.count >= maxCacheEntries else { return }
        let oldest = cache.sorted { $0.value.storedAt < $1.value.storedAt }.prefix(max(1, maxCacheEntries / 10)).map(\.key)
        for key in oldest { cache[key] = nil }
    }
}
