/// Builds a DNS message in a caller's buffer: header, questions, then records section by
/// section, compressing names and keeping the header counts right after every write.
///
/// Nothing is allocated. A question or record that does not fit is rolled back whole and
/// `.noSpace` is thrown, so the caller can set TC and send what was written (RFC 2181 §9).
public struct DNSMessageWriter {
    /// The underlying cursor; `writer.written` is the message so far.
    public private(set) var writer: WireWriter
    /// The header as written, counts included.
    public private(set) var header: DNSHeader
    private var compression = DNSCompressionTable()
    private var section = DNSSection.question
    /// Offset of the RDLENGTH of the OPT record just written, while options may be appended.
    private var openOPTLength: Int?

    /// Starts a message with `header`, whose counts are ignored and kept by the writer.
    /// `limit` caps the size (512, or the client's EDNS UDP payload size).
    public init(_ buffer: UnsafeMutableRawBufferPointer, header: DNSHeader, limit: Int? = nil) throws(WireError) {
        writer = WireWriter(buffer, limit: limit)
        self.header = DNSHeader(id: header.id, flags: header.flags)
        try self.header.write(to: &writer)
    }

    /// The bytes written so far: always a complete message.
    public var written: UnsafeRawBufferPointer { writer.written }
    public var count: Int { writer.count }

    /// Rewrites the ID and flags (to set TC or an RCODE after the fact).
    public mutating func setHeader(id: UInt16, flags: UInt16) {
        header.id = id
        header.flags = flags
        writer.patchUInt16(id, at: 0)
        writer.patchUInt16(flags, at: 2)
    }

    public mutating func writeQuestion(_ name: DNSName, type: DNSType, dnsClass: DNSClass = .in) throws(WireError) {
        try enter(.question)
        try atomically { (self: inout DNSMessageWriter) throws(WireError) in
            try self.writeName(name, compress: true)
            try self.writer.writeUInt16(type.rawValue, "dns.question.type")
            try self.writer.writeUInt16(dnsClass.rawValue, "dns.question.class")
        }
        header.questionCount += 1
        writer.patchUInt16(header.questionCount, at: 4)
    }

    /// Writes one record; its type is `data.type`. For `.opt` data, `dnsClass` and `ttl` are
    /// the raw fields (see `writeOPT` for the friendly form).
    public mutating func writeRecord(
        _ section: DNSSection, name: DNSName, dnsClass: DNSClass = .in, ttl: UInt32, data: DNSRData
    ) throws(WireError) {
        precondition(section != .question, "questions are written with writeQuestion")
        try enter(section)
        try atomically { (self: inout DNSMessageWriter) throws(WireError) in
            try self.writeName(name, compress: true)
            try self.writer.writeUInt16(data.type.rawValue, "dns.rr.type")
            try self.writer.writeUInt16(dnsClass.rawValue, "dns.rr.class")
            try self.writer.writeUInt32(ttl, "dns.rr.ttl")
            let lengthOffset = self.writer.count
            try self.writer.writeUInt16(0, "dns.rr.rdlength")
            try self.writeRData(data)
            let length = self.writer.count - lengthOffset - 2
            guard length <= 0xFFFF else { throw WireError(.limitExceeded, "dns.rr.rdlength", at: lengthOffset) }
            self.writer.patchUInt16(UInt16(length), at: lengthOffset)
            if case .opt = data { self.openOPTLength = lengthOffset }
        }
        switch section {
        case .question: break
        case .answer:
            header.answerCount += 1
            writer.patchUInt16(header.answerCount, at: 6)
        case .authority:
            header.authorityCount += 1
            writer.patchUInt16(header.authorityCount, at: 8)
        case .additional:
            header.additionalCount += 1
            writer.patchUInt16(header.additionalCount, at: 10)
        }
    }

    /// Copies a record from a parsed message, re-compressing its names against this one.
    public mutating func writeRecord(copying record: DNSRecord) throws(WireError) {
        try writeRecord(record.section, name: record.name, dnsClass: record.dnsClass, ttl: record.ttl, data: try record.data())
    }

    /// Writes an OPT record with no options into the additional section (RFC 6891 §6.1.2);
    /// follow it with `appendEDNSOption` to add some.
    public mutating func writeOPT(
        udpPayloadSize: UInt16, extendedRCode: UInt8 = 0, version: UInt8 = 0, dnssecOK: Bool = false
    ) throws(WireError) {
        try enter(.additional)
        let flags: UInt16 = dnssecOK ? 0x8000 : 0
        try atomically { (self: inout DNSMessageWriter) throws(WireError) in
            // "OWNER NAME: MUST be 0 (root domain)" (RFC 6891 §6.1.2).
            try self.writer.writeUInt8(0, "dns.opt.name")
            try self.writer.writeUInt16(DNSType.opt.rawValue, "dns.opt.type")
            try self.writer.writeUInt16(udpPayloadSize, "dns.opt.udp_payload_size")
            try self.writer.writeUInt32(DNSOPT.ttl(extendedRCode: extendedRCode, version: version, flags: flags), "dns.opt.ttl")
            let lengthOffset = self.writer.count
            try self.writer.writeUInt16(0, "dns.opt.rdlength")
            self.openOPTLength = lengthOffset
        }
        header.additionalCount += 1
        writer.patchUInt16(header.additionalCount, at: 10)
    }

    /// Adds an option to the OPT record written last. Refused (`.invalidValue`) if anything
    /// else was written after it.
    public mutating func appendEDNSOption(code: UInt16, data: UnsafeRawBufferPointer) throws(WireError) {
        guard let lengthOffset = openOPTLength else { throw WireError(.invalidValue, "dns.opt.option", at: writer.count) }
        let newLength = writer.count - lengthOffset - 2 + 4 + data.count
        guard data.count <= 0xFFFF, newLength <= 0xFFFF else { throw WireError(.limitExceeded, "dns.opt.option.length", at: writer.count) }
        try writer.require(4 + data.count, "dns.opt.option")
        try writer.writeUInt16(code, "dns.opt.option.code")
        try writer.writeUInt16(UInt16(data.count), "dns.opt.option.length")
        try writer.writeBytes(data, "dns.opt.option.data")
        writer.patchUInt16(UInt16(newLength), at: lengthOffset)
    }

    // MARK: - Internals

    /// Sections go in wire order; going back would make the counts lie.
    private mutating func enter(_ next: DNSSection) throws(WireError) {
        guard next >= section else { throw WireError(.invalidValue, "dns.writer.section", at: writer.count) }
        section = next
        openOPTLength = nil
    }

    /// Runs `body`; if it throws, undoes its bytes and compression entries.
    private mutating func atomically(_ body: (inout DNSMessageWriter) throws(WireError) -> Void) throws(WireError) {
        let start = writer.count
        let mark = compression.count
        do throws(WireError) {
            try body(&self)
        } catch {
            writer.truncate(to: start)
            compression.truncate(to: mark)
            openOPTLength = nil
            throw error
        }
    }

    private mutating func writeRData(_ data: DNSRData) throws(WireError) {
        // RFC 3597 §4: "servers MUST NOT compress domain names embedded in the RDATA of types
        // that are class-specific or not well-known", so only RFC 1035's own types compress.
        switch data {
        case .a(let address):
            try writer.writeIPv4(address, "dns.rdata.a")
        case .aaaa(let address):
            try writer.writeUInt32(UInt32(truncatingIfNeeded: address.high >> 32), "dns.rdata.aaaa")
            try writer.writeUInt32(UInt32(truncatingIfNeeded: address.high), "dns.rdata.aaaa")
            try writer.writeUInt32(UInt32(truncatingIfNeeded: address.low >> 32), "dns.rdata.aaaa")
            try writer.writeUInt32(UInt32(truncatingIfNeeded: address.low), "dns.rdata.aaaa")
        case .ns(let name), .cname(let name), .ptr(let name):
            try writeName(name, compress: true)
        case .mx(let preference, let exchange):
            try writer.writeUInt16(preference, "dns.rdata.mx")
            try writeName(exchange, compress: true)
        case .soa(let soa):
            try writeName(soa.mname, compress: true)
            try writeName(soa.rname, compress: true)
            try writer.writeUInt32(soa.serial, "dns.rdata.soa")
            try writer.writeUInt32(soa.refresh, "dns.rdata.soa")
            try writer.writeUInt32(soa.retry, "dns.rdata.soa")
            try writer.writeUInt32(soa.expire, "dns.rdata.soa")
            try writer.writeUInt32(soa.minimum, "dns.rdata.soa")
        case .txt(let txt):
            try writer.writeBytes(txt.rdata, "dns.rdata.txt")
        case .srv(let srv):
            try writer.writeUInt16(srv.priority, "dns.rdata.srv")
            try writer.writeUInt16(srv.weight, "dns.rdata.srv")
            try writer.writeUInt16(srv.port, "dns.rdata.srv")
            // "name compression is not to be used for this field" (RFC 2782).
            try writeName(srv.target, compress: false)
        case .opt(let opt):
            try writer.writeBytes(opt.options.rdata, "dns.opt.options")
        case .unknown(_, let bytes):
            try writer.writeBytes(bytes, "dns.rdata")
        }
    }

    /// Writes `name`, replacing its longest suffix already in the message by a pointer, and
    /// remembers where each newly written suffix starts.
    private mutating func writeName(_ name: DNSName, compress: Bool) throws(WireError) {
        let field: StaticString = "dns.name"
        var prefixLabels = name.labelCount
        var target = -1
        if compress, compression.count > 0 {
            let output = UnsafeRawBufferPointer(rebasing: writer.buffer[0..<writer.count])
            var suffix = name.labels
            // Longest suffix first: the first match saves the most bytes.
            search: for skipped in 0..<name.labelCount {
                let position = suffix.resolvedPosition()
                let firstLength = name.message[position]
                for entry in 0..<compression.count {
                    let candidate = compression[entry]
                    // Cheap reject on the first label's length before walking both names.
                    guard Self.firstLabelLength(output, candidate) == firstLength else { continue }
                    if DNSName.exactlyEqual(suffix, DNSName.Labels(message: output, position: candidate)) {
                        prefixLabels = skipped
                        target = candidate
                        break search
                    }
                }
                _ = suffix.skipLabel()
            }
        }
        var labels = name.labels
        for _ in 0..<prefixLabels {
            guard let label = labels.next() else { break }
            let start = writer.count
            try writer.writeUInt8(UInt8(label.count), field)
            try writer.writeBytes(label, field)
            // Only names that may be compressed are offered as targets, so nothing points into
            // an SRV target.
            if compress { compression.insert(start) }
        }
        if target >= 0 {
            try writer.writeUInt16(0xC000 | UInt16(target), field)
        } else {
            try writer.writeUInt8(0, field)
        }
    }

    private static func firstLabelLength(_ output: UnsafeRawBufferPointer, _ offset: Int) -> UInt8 {
        var position = offset
        while output[position] >= 0xC0 {
            position = Int(output[position] & 0x3F) << 8 | Int(output[position + 1])
        }
        return output[position]
    }
}
