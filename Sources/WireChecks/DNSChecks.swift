import Wire

/// Properties of the DNS codec, run by the fuzz targets (`FuzzDNS`, `FuzzDNSRoundTrip`) on random
/// input and by the unit tests on every kept finding (`fuzz/regressions/`). Each returns a
/// description of the violation, or nil.
public enum DNSChecks {
    // MARK: - Every accessor

    /// Parses `bytes`, then reads everything a message offers: header bits, every question,
    /// every record and its typed RDATA (OPT options included), the EDNS view, and each name's
    /// presentation forms and comparisons. Beyond "nothing crashes, reads out of bounds or
    /// loops", it checks what must hold of any valid name:
    /// - its presentation text (`description`) parses back (`DNSName.write(text:)`) to the same
    ///   labels, byte for byte;
    /// - it equals itself and an upper-cased copy of itself (`==` ignores ASCII case), and
    ///   `matches(wire:)` its own uncompressed form;
    /// - its `wireLength` and `labelCount` agree with its labels.
    public static func exerciseAll(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard let message = try? DNSMessage(parsing: bytes) else { return nil }
        let h = message.header
        _ = (h.qr, h.opcode, h.aa, h.tc, h.rd, h.ra, h.z, h.ad, h.cd, h.rcode)
        for section in DNSSection.allCases { _ = (h.count(of: section), section.description) }

        var questions = 0
        var firstName: DNSName?
        for question in message.questions {
            questions += 1
            _ = (question.type.description, question.dnsClass.description)
            if let violation = checkName(question.name, "question") { return violation }
            if let first = firstName { _ = first == question.name } else { firstName = question.name }
        }
        guard questions == Int(h.questionCount) else {
            return "iterated \(questions) questions, header says \(h.questionCount)"
        }
        if let first = message.question, let name = firstName {
            guard sameLabels(first.name, name) else { return "question differs from the first of questions" }
        }

        var records = message.records
        var counts = [0, 0, 0, 0]
        var lastSection = DNSSection.answer
        var firstOPT: DNSRecord?
        var failed = false
        while true {
            let record: DNSRecord
            do throws(WireError) {
                guard let next = try records.next() else { break }
                record = next
            } catch {
                _ = error.description
                // The iterator is finished after an error.
                if (try? records.next()) != nil { return "record iterator continued after an error" }
                failed = true
                break
            }
            guard record.section >= lastSection else { return "records went back from \(lastSection) to \(record.section)" }
            lastSection = record.section
            counts[Int(record.section.rawValue)] += 1
            guard record.rdataOffset >= 0, record.end <= bytes.count, record.rdata.count == record.rdataLength else {
                return "record RDATA \(record.rdataOffset)+\(record.rdataLength) outside the message of \(bytes.count) bytes"
            }
            _ = (record.type.description, record.dnsClass.description, record.ttl)
            if let violation = checkName(record.name, "record owner") { return violation }
            if let name = firstName { _ = record.name == name }
            if record.section == .additional, record.type == .opt, firstOPT == nil { firstOPT = record }
            guard let data = try? record.data() else { continue }
            guard data.type == record.type else { return "RDATA of type \(data.type) for a \(record.type) record" }
            _ = data.description
            if let violation = exercise(data, record) { return violation }
        }
        if !failed {
            let expected = [0, Int(h.answerCount), Int(h.authorityCount), Int(h.additionalCount)]
            guard counts == expected else { return "iterated \(counts) records, header says \(expected)" }
        }

        // `edns()` must find the same record the iteration found (or fail the same way).
        if let opt = try? message.edns() {
            guard let record = firstOPT else { return "edns() found an OPT record the iteration did not" }
            guard let direct = try? DNSOPT(parsing: record), direct.udpPayloadSize == opt.udpPayloadSize,
                  direct.options.rdata.elementsEqual(opt.options.rdata)
            else { return "edns() differs from the first additional OPT record" }
            _ = opt.fullRCode(header: h)
        }
        return nil
    }

    /// Reads every part of typed RDATA and checks it stays inside the record.
    static func exercise(_ data: DNSRData, _ record: DNSRecord) -> String? {
        switch data {
        case .a(let address):
            _ = address.description
        case .aaaa(let address):
            _ = (address.description, address.groups)
        case .ns(let name), .cname(let name), .ptr(let name):
            return checkName(name, "\(record.type) target")
        case .mx(let preference, let exchange):
            _ = preference
            return checkName(exchange, "MX exchange")
        case .soa(let soa):
            _ = (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum)
            return checkName(soa.mname, "SOA mname") ?? checkName(soa.rname, "SOA rname")
        case .txt(let txt):
            var total = 0
            for string in txt { total += 1 + string.count }
            guard total == txt.rdata.count else { return "TXT strings cover \(total) of \(txt.rdata.count) bytes" }
        case .srv(let srv):
            _ = (srv.priority, srv.weight, srv.port)
            return checkName(srv.target, "SRV target")
        case .opt(let opt):
            _ = (opt.udpPayloadSize, opt.extendedRCode, opt.version, opt.flags, opt.dnssecOK)
            guard opt.udpPayloadSize == record.dnsClass.rawValue,
                  DNSOPT.ttl(extendedRCode: opt.extendedRCode, version: opt.version, flags: opt.flags) == record.ttl
            else { return "OPT fields do not give back the record's CLASS and TTL" }
            var total = 0
            for option in opt.options {
                _ = option.code
                total += 4 + option.data.count
                guard total <= opt.options.rdata.count else { return "OPT options run past the RDATA" }
            }
            guard total == record.rdataLength else { return "OPT options cover \(total) of \(record.rdataLength) bytes" }
        case .unknown(let type, let bytes):
            guard type == record.type, bytes.count == record.rdataLength else { return "unknown RDATA is not the record's" }
        }
        return nil
    }

    /// The properties every validated name has (see `exerciseAll`).
    static func checkName(_ name: DNSName, _ what: String) -> String? {
        var labels = 0
        var length = 1
        for label in name.labels {
            guard label.count >= 1, label.count <= DNSName.maxLabelLength else { return "\(what): label of \(label.count) bytes" }
            labels += 1
            length += 1 + label.count
        }
        guard labels == name.labelCount, length == name.wireLength, length <= DNSName.maxWireLength else {
            return "\(what): labelCount \(name.labelCount) / wireLength \(name.wireLength), labels say \(labels) / \(length)"
        }
        guard name.isRoot == (labels == 0) else { return "\(what): isRoot is wrong" }
        guard name == name else { return "\(what): a name differs from itself" }
        let text = name.description
        _ = name.displayName

        return withUnsafeTemporaryAllocation(byteCount: 2 * DNSName.maxWireLength, alignment: 1) { buffer -> String? in
            // Presentation text back to wire form.
            let fromText = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<DNSName.maxWireLength])
            var writer = WireWriter(fromText)
            let written: Int
            do throws(WireError) {
                written = try DNSName.write(text: text, to: &writer)
            } catch {
                return "\(what): presentation \"\(text)\" does not parse back: \(error)"
            }
            let wire = UnsafeRawBufferPointer(rebasing: fromText[0..<written])
            guard let parsed = try? DNSName(wire: wire) else { return "\(what): text \"\(text)\" wrote an invalid name" }
            guard sameLabels(parsed, name) else { return "\(what): presentation \"\(text)\" parses to \"\(parsed)\"" }
            guard name.matches(wire: wire), parsed == name else { return "\(what): does not match its own wire form" }

            // An upper-cased copy compares equal, and exactly equal only if nothing changed.
            let upper = UnsafeMutableRawBufferPointer(rebasing: buffer[DNSName.maxWireLength..<(DNSName.maxWireLength + written)])
            var changed = false
            var position = 0
            while position < written {
                let length = Int(wire[position])
                upper[position] = wire[position]
                for i in position + 1..<position + 1 + length {
                    let byte = wire[i]
                    let folded = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
                    if folded != byte { changed = true }
                    upper[i] = folded
                }
                position += 1 + length
            }
            guard let upperName = try? DNSName(wire: UnsafeRawBufferPointer(upper)) else { return "\(what): upper-cased copy is invalid" }
            guard upperName == name, name == upperName else { return "\(what): differs from its upper-cased copy" }
            guard sameLabels(upperName, name) == !changed else { return "\(what): exact comparison ignores case" }
            return nil
        }
    }

    /// True if the two names have the same labels, byte for byte (case included).
    public static func sameLabels(_ a: DNSName, _ b: DNSName) -> Bool {
        var left = a.labels
        var right = b.labels
        while true {
            let x = left.next()
            let y = right.next()
            guard let x else { return y == nil }
            guard let y, x.elementsEqual(y) else { return false }
        }
    }

    // MARK: - Parse → write → parse

    /// A message that parses completely (every record and every typed RDATA) re-encodes with
    /// `DNSMessageWriter`, and the copy parses to the same message: the same ID, flags and
    /// counts, the same questions, and the same records in the same sections — owner names equal
    /// byte for byte (case included), same type, class and TTL, and semantically equal RDATA
    /// (names compared label by label, since compression may move them).
    ///
    /// Records are re-written from their typed RDATA (`writeRecord(copying:)`); an OPT record of
    /// the additional section whose owner is the root and whose flags are only DO is re-written
    /// the friendly way instead
    /// (`writeOPT` + `appendEDNSOption` per option), so both paths are covered.
    ///
    /// Then the copy is re-encoded again and must come out byte-identical: the writer's output
    /// depends only on the message's content, not on how the input was compressed.
    public static func roundTrip(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard let message = try? DNSMessage(parsing: bytes), fullyParses(message) else { return nil }
        // Upper bound of the copy: every name may be written whole (≤ 255 bytes, SOA has two
        // in its RDATA), plus the fixed fields and the RDATA bytes, which the input holds.
        let entries = Int(message.header.questionCount) + Int(message.header.answerCount)
            + Int(message.header.authorityCount) + Int(message.header.additionalCount)
        let capacity = DNSHeader.size + bytes.count + entries * (3 * DNSName.maxWireLength + 32)
        let first = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        let second = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
        defer {
            first.deallocate()
            second.deallocate()
        }
        let length: Int
        switch encode(message, into: first) {
        case .failure(let failure): return failure.why
        case .success(let n): length = n
        }
        let copyBytes = UnsafeRawBufferPointer(rebasing: first[0..<length])
        let copy: DNSMessage
        do throws(WireError) {
            copy = try DNSMessage(parsing: copyBytes)
        } catch {
            return "re-encoded message does not parse: \(error)"
        }
        if let difference = compare(message, copy) { return difference }

        let again: Int
        switch encode(copy, into: second) {
        case .failure(let failure): return "second encoding: \(failure.why)"
        case .success(let n): again = n
        }
        guard again == length, UnsafeRawBufferPointer(rebasing: second[0..<again]).elementsEqual(copyBytes) else {
            return "re-encoding the copy gives different bytes (\(length) then \(again))"
        }
        return nil
    }

    struct Failure: Error {
        let why: String
        init(_ why: String) { self.why = why }
    }

    /// True if every record iterates and every RDATA decodes.
    static func fullyParses(_ message: DNSMessage) -> Bool {
        var records = message.records
        do throws(WireError) {
            while let record = try records.next() { _ = try record.data() }
            return true
        } catch {
            return false
        }
    }

    /// Writes `message` with `DNSMessageWriter`; the number of bytes, or why it failed.
    static func encode(_ message: DNSMessage, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Failure> {
        do throws(WireError) {
            var writer = try DNSMessageWriter(buffer, header: message.header)
            for question in message.questions {
                try writer.writeQuestion(question.name, type: question.type, dnsClass: question.dnsClass)
            }
            var records = message.records
            while let record = try records.next() {
                let data = try record.data()
                if case .opt(let opt) = data, record.section == .additional, record.name.isRoot, opt.flags & 0x7FFF == 0 {
                    try writer.writeOPT(
                        udpPayloadSize: opt.udpPayloadSize, extendedRCode: opt.extendedRCode, version: opt.version,
                        dnssecOK: opt.dnssecOK)
                    for option in opt.options { try writer.appendEDNSOption(code: option.code, data: option.data) }
                } else {
                    try writer.writeRecord(copying: record)
                }
            }
            guard writer.header.id == message.header.id, writer.header.flags == message.header.flags else {
                return .failure(Failure("writer changed the ID or flags"))
            }
            return .success(writer.count)
        } catch {
            return .failure(Failure("re-encode failed: \(error)"))
        }
    }

    /// The differences that matter between a message and its re-encoding.
    static func compare(_ a: DNSMessage, _ b: DNSMessage) -> String? {
        guard a.header == b.header else { return "header \(a.header) became \(b.header)" }
        var qa = a.questions
        var qb = b.questions
        var index = 0
        while let x = qa.next() {
            guard let y = qb.next() else { return "question \(index) missing" }
            guard sameLabels(x.name, y.name), x.type == y.type, x.dnsClass == y.dnsClass else {
                return "question \(index): \(x.name) \(x.type) \(x.dnsClass) became \(y.name) \(y.type) \(y.dnsClass)"
            }
            index += 1
        }
        guard qb.next() == nil else { return "extra question" }

        var ra = a.records
        var rb = b.records
        index = 0
        while true {
            let x: DNSRecord?, y: DNSRecord?
            do throws(WireError) {
                x = try ra.next()
            } catch {
                return "original stopped parsing: \(error)"
            }
            do throws(WireError) {
                y = try rb.next()
            } catch {
                return "record \(index) of the copy does not parse: \(error)"
            }
            guard let x else { return y == nil ? nil : "extra record in the copy" }
            guard let y else { return "record \(index) missing from the copy" }
            guard x.section == y.section, sameLabels(x.name, y.name), x.type == y.type, x.dnsClass == y.dnsClass, x.ttl == y.ttl
            else {
                return "record \(index): \(x.section) \(x.name) \(x.type) \(x.dnsClass) \(x.ttl) became \(y.section) \(y.name) \(y.type) \(y.dnsClass) \(y.ttl)"
            }
            let dx: DNSRData, dy: DNSRData
            do throws(WireError) {
                dx = try x.data()
                dy = try y.data()
            } catch {
                return "record \(index) (\(x.type)) RDATA of the copy does not decode: \(error)"
            }
            guard sameRData(dx, dy) else { return "record \(index) (\(x.type)) RDATA \(dx) became \(dy)" }
            index += 1
        }
    }

    /// RDATA equality by meaning: names label by label, the rest by value or bytes.
    public static func sameRData(_ a: DNSRData, _ b: DNSRData) -> Bool {
        switch (a, b) {
        case (.a(let x), .a(let y)): return x == y
        case (.aaaa(let x), .aaaa(let y)): return x == y
        case (.ns(let x), .ns(let y)), (.cname(let x), .cname(let y)), (.ptr(let x), .ptr(let y)):
            return sameLabels(x, y)
        case (.mx(let p, let x), .mx(let q, let y)): return p == q && sameLabels(x, y)
        case (.soa(let x), .soa(let y)):
            return sameLabels(x.mname, y.mname) && sameLabels(x.rname, y.rname) && x.serial == y.serial
                && x.refresh == y.refresh && x.retry == y.retry && x.expire == y.expire && x.minimum == y.minimum
        case (.txt(let x), .txt(let y)): return x.rdata.elementsEqual(y.rdata)
        case (.srv(let x), .srv(let y)):
            return x.priority == y.priority && x.weight == y.weight && x.port == y.port && sameLabels(x.target, y.target)
        case (.opt(let x), .opt(let y)):
            return x.udpPayloadSize == y.udpPayloadSize && x.extendedRCode == y.extendedRCode && x.version == y.version
                && x.flags == y.flags && x.options.rdata.elementsEqual(y.options.rdata)
        case (.unknown(let s, let x), .unknown(let t, let y)): return s == t && x.elementsEqual(y)
        default: return false
        }
    }
}
