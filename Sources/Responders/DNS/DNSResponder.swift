import Tables
import Wire

/// How a query arrived: UDP answers are limited in size and rate, TCP answers are not.
public enum DNSTransport: Sendable { case udp, tcp }

/// What the service does with a query.
public enum DNSVerdict: Equatable {
    /// Send the first `length` bytes of the output buffer.
    case reply(length: Int)
    case drop(DNSDropReason)
    /// A name outside our zones from a client allowed recursion: hand it to the forwarder.
    case forward(DNSQueryInfo)
    /// An allowed AXFR over TCP of this zone (see `DNSResponder.transferMessages`).
    case transfer(zone: Int, DNSQueryInfo)
}

/// The parts of a query the forwarder and the transfer need after the responder read it.
public struct DNSQueryInfo: Equatable, Sendable {
    public var id: UInt16
    public var flags: UInt16
    /// The question section's end (it starts at 12).
    public var questionEnd: Int
    public var type: UInt16
    public var dnsClass: UInt16
    public var hasEDNS: Bool
    /// The largest UDP response the client takes (512 without EDNS).
    public var udpLimit: Int
}

/// The authoritative DNS server's policy (RFC 1034/1035, 2308, 4592, 6891, 8482): reads a
/// query in place, answers from the pre-encoded zones, or says why not. No I/O, no allocation:
/// the answer is written into the caller's buffer. One per ring.
public final class DNSResponder {
    public private(set) var counters = DNSCounters()
    public var rateLimiter = DNSRateLimiter()
    /// Whether forwarding is possible at all (upstream servers configured); RA is set for
    /// clients allowed recursion only when it is.
    public var recursionAvailable = false
    let name = ZoneQueryName()

    /// Our EDNS UDP size: the DNS Flag Day 2020 value, which avoids IP fragmentation.
    public static let ednsUDPSize = 1232
    static let badVersion: UInt8 = 16

    public init() {}

    @inline(__always)
    static func u16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(b[at]) << 8 | UInt16(b[at + 1])
    }

    @inline(__always)
    static func put16(_ b: UnsafeMutableRawBufferPointer, _ at: Int, _ value: UInt16) {
        b[at] = UInt8(value >> 8)
        b[at + 1] = UInt8(truncatingIfNeeded: value)
    }

    /// Answers one query. `out` must hold at least 512 bytes (UDP) or 65,535 (TCP, AXFR aside).
    public func respond(_ query: UnsafeRawBufferPointer, source: UInt32, transport: DNSTransport, zones: ZoneTable,
                        now: UInt64, into out: UnsafeMutableRawBufferPointer) -> DNSVerdict {
        if transport == .udp { counters.queriesUDP &+= 1 } else { counters.queriesTCP &+= 1 }
        guard query.count >= DNSHeader.size else { return drop(.short) }
        let flags = Self.u16(query, 2)
        guard flags & 0x8000 == 0 else { return drop(.response) }
        let opcode = UInt8(flags >> 11 & 0xF)
        let questionCount = Self.u16(query, 4)
        let recordCount = Int(Self.u16(query, 6)) + Int(Self.u16(query, 8)) + Int(Self.u16(query, 10))

        // The question, read where it lies; a name with a compression pointer is refused, since
        // the answers point at the question's name and must find it whole at offset 12.
        var questionEnd = DNSHeader.size
        var questionOK = false
        if questionCount == 1, name.load(query, at: DNSHeader.size) {
            questionEnd = DNSHeader.size + name.length + 4
            questionOK = questionEnd <= query.count
        }
        var info = DNSQueryInfo(id: Self.u16(query, 0), flags: flags, questionEnd: questionOK ? questionEnd : DNSHeader.size,
                                type: questionOK ? Self.u16(query, questionEnd - 4) : 0,
                                dnsClass: questionOK ? Self.u16(query, questionEnd - 2) : 0,
                                hasEDNS: false, udpLimit: 512)
        guard opcode == 0 else { return error(4, info, query, transport, out) }
        guard questionCount == 1 else { return formatError(.questionCount, info, query, transport, out) }
        guard questionOK else {
            return formatError(questionEnd > query.count ? .truncated : .badName, info, query, transport, out)
        }

        // EDNS (RFC 6891): one OPT, owned by the root, in the additional section.
        var ednsVersion: UInt8 = 0
        var dnssecOK = false
        if recordCount > 0 {
            guard let message = try? DNSMessage(parsing: query) else {
                return formatError(.badRecords, info, query, transport, out)
            }
            var records = message.records
            while true {
                let record: DNSRecord?
                do { record = try records.next() } catch { return formatError(.badRecords, info, query, transport, out) }
                guard let record else { break }
                guard record.section == .additional, record.type == .opt else { continue }
                guard !info.hasEDNS else { return formatError(.duplicateOPT, info, query, transport, out) }
                guard record.name.isRoot else { return formatError(.badOPTOwner, info, query, transport, out) }
                info.hasEDNS = true
                info.udpLimit = min(max(512, Int(record.dnsClass.rawValue)), Self.ednsUDPSize)
                ednsVersion = UInt8(truncatingIfNeeded: record.ttl >> 16)
                dnssecOK = record.ttl & 0x8000 != 0
            }
        }
        if ednsVersion > 0 { return error(Self.badVersion, info, query, transport, out, dnssecOK: dnssecOK) }
        guard info.dnsClass == DNSClass.in.rawValue else { return error(5, info, query, transport, out, dnssecOK: dnssecOK) }
        switch info.type {
        case DNSType.opt.rawValue:
            return formatError(.optAsQuestion, info, query, transport, out)
        case 251, 252:  // IXFR, AXFR: whole-zone transfers over TCP to allowed clients only
            if transport == .tcp, zones.transferAllowed(source), let zone = zones.zone(apex: name.name) {
                counters.transfers &+= 1
                return .transfer(zone: zone, info)
            }
            return error(5, info, query, transport, out, dnssecOK: dnssecOK)
        case 128...254:
            return error(4, info, query, transport, out, dnssecOK: dnssecOK)
        default:
            break
        }

        let recursion = recursionAvailable && zones.recursionAllowed(source)
        guard let answer = zones.resolve(name, type: info.type) else {
            if recursion, flags & 0x0100 != 0 {
                return .forward(info)
            }
            return error(5, info, query, transport, out, dnssecOK: dnssecOK, recursion: recursion)
        }
        if transport == .udp {
            switch rateLimiter.decide(source: source, perSecond: zones.responsesPerSecond, now: now) {
            case .answer: break
            case .drop: return drop(.rateLimited)
            case .slip:
                counters.slipped &+= 1
                return .reply(length: write(info, query, rcode: answer.rcode, aa: answer.isAuthoritative, answer: nil, transport,
                                            out, dnssecOK: dnssecOK, recursion: recursion, truncate: true))
            }
        }
        return .reply(length: write(info, query, rcode: answer.rcode, aa: answer.isAuthoritative, answer: answer, transport, out,
                                    dnssecOK: dnssecOK, recursion: recursion))
    }

    /// Counts a drop the service decided on (an oversized TCP stream).
    public func countDrop(_ reason: DNSDropReason) { counters.dropped[reason.rawValue] &+= 1 }

    @inline(__always)
    func drop(_ reason: DNSDropReason) -> DNSVerdict {
        counters.dropped[reason.rawValue] &+= 1
        return .drop(reason)
    }

    func formatError(_ reason: DNSFormatError, _ info: DNSQueryInfo, _ query: UnsafeRawBufferPointer,
                     _ transport: DNSTransport, _ out: UnsafeMutableRawBufferPointer) -> DNSVerdict {
        counters.formatErrors[reason.rawValue] &+= 1
        var info = info
        // The question is echoed only if it was read whole.
        if reason != .optAsQuestion && reason != .badRecords && reason != .duplicateOPT && reason != .badOPTOwner {
            info.questionEnd = DNSHeader.size
        }
        return error(1, info, query, transport, out)
    }

    /// An answer with no records: FORMERR, NOTIMP, REFUSED or BADVERS. Not rate-limited: it is
    /// no larger than the query, so it amplifies nothing.
    func error(_ rcode: UInt8, _ info: DNSQueryInfo, _ query: UnsafeRawBufferPointer, _ transport: DNSTransport,
               _ out: UnsafeMutableRawBufferPointer, dnssecOK: Bool = false, recursion: Bool = false) -> DNSVerdict {
        return .reply(length: write(info, query, rcode: rcode, aa: false, answer: nil, transport, out, dnssecOK: dnssecOK,
                                    recursion: recursion))
    }

    /// Header, the question as the client wrote it (its case kept: RFC 4343 §4.1), the answer's
    /// records, and our OPT if the client sent one. Cut to header, question and OPT with TC set
    /// when it would exceed the client's limit.
    @inline(__always)
    func write(_ info: DNSQueryInfo, _ query: UnsafeRawBufferPointer, rcode: UInt8, aa: Bool, answer: ZoneAnswer?,
               _ transport: DNSTransport, _ out: UnsafeMutableRawBufferPointer, dnssecOK: Bool, recursion: Bool,
               truncate: Bool = false) -> Int {
        let questionLength = info.questionEnd - DNSHeader.size
        let optLength = info.hasEDNS ? 11 : 0
        let limit = transport == .tcp ? min(out.count, 65_535) : min(out.count, info.udpLimit)
        var records = answer?.records ?? UnsafeRawBufferPointer(start: nil, count: 0)
        var truncated = truncate
        if DNSHeader.size + questionLength + records.count + optLength > limit {
            truncated = true
        }
        if truncated {
            records = UnsafeRawBufferPointer(start: nil, count: 0)
            if !truncate { counters.truncated &+= 1 }
        }
        var flags: UInt16 = 0x8000 | info.flags & 0x7900  // QR, opcode, RD
        flags |= info.flags & 0x0010  // CD
        if aa { flags |= 0x0400 }
        if truncated { flags |= 0x0200 }
        if recursion { flags |= 0x0080 }
        flags |= UInt16(rcode & 0xF)
        Self.put16(out, 0, info.id)
        Self.put16(out, 2, flags)
        Self.put16(out, 4, questionLength > 0 ? 1 : 0)
        Self.put16(out, 6, truncated ? 0 : answer?.answerCount ?? 0)
        Self.put16(out, 8, truncated ? 0 : answer?.authorityCount ?? 0)
        Self.put16(out, 10, (truncated ? 0 : answer?.additionalCount ?? 0) + (info.hasEDNS ? 1 : 0))
        var length = DNSHeader.size
        if questionLength > 0 {
            (out.baseAddress! + length).copyMemory(from: query.baseAddress! + DNSHeader.size, byteCount: questionLength)
            length += questionLength
        }
        if records.count > 0 {
            (out.baseAddress! + length).copyMemory(from: records.baseAddress!, byteCount: records.count)
            length += records.count
        }
        if info.hasEDNS {
            // Root owner, type 41, our UDP size, extended RCODE, version 0, DO echoed (RFC 3225 §3).
            out[length] = 0
            Self.put16(out, length + 1, 41)
            Self.put16(out, length + 3, UInt16(Self.ednsUDPSize))
            out[length + 5] = rcode >> 4
            out[length + 6] = 0
            Self.put16(out, length + 7, dnssecOK ? 0x8000 : 0)
            Self.put16(out, length + 9, 0)
            length += 11
        }
        counters.responses[min(Int(rcode), 16)] &+= 1
        return length
    }

    /// Writes an AXFR response (RFC 5936) as TCP messages, each with its two-byte length:
    /// the zone's records in messages of at most about 16 KiB, the question in the first.
    public func transferMessages(zone: Int, zones: ZoneTable, _ info: DNSQueryInfo, query: UnsafeRawBufferPointer) -> [UInt8] {
        let records = zones.transferRecords(zone: zone)
        var output: [UInt8] = []
        var position = 0
        var first = true
        repeat {
            var end = position
            var count = 0
            // Whole records up to the message budget (always at least one).
            while end < records.count {
                guard let next = Self.recordEnd(records, at: end), count == 0 || next - position <= 16_000 else { break }
                end = next
                count += 1
            }
            if count == 0 { break }
            let questionLength = first ? info.questionEnd - DNSHeader.size : 0
            let length = DNSHeader.size + questionLength + (end - position)
            output += [UInt8(length >> 8), UInt8(length & 0xFF)]
            output += [UInt8(info.id >> 8), UInt8(info.id & 0xFF), 0x84, 0x00]
            output += [0, questionLength > 0 ? 1 : 0, UInt8(count >> 8), UInt8(count & 0xFF), 0, 0, 0, 0]
            if questionLength > 0 { output += query[DNSHeader.size..<info.questionEnd] }
            output += records[position..<end]
            position = end
            first = false
        } while position < records.count
        counters.responses[0] &+= 1
        return output
    }

    /// The end of an uncompressed record at `offset`, or nil if it does not fit.
    static func recordEnd(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int? {
        var position = offset
        while position < bytes.count {
            let length = Int(bytes[position])
            if length == 0 { break }
            guard length <= 63 else { return nil }
            position += 1 + length
        }
        position += 1
        guard position + 10 <= bytes.count else { return nil }
        let end = position + 10 + Int(u16(bytes, position + 8))
        return end <= bytes.count ? end : nil
    }
}
