import Wire

/// Adds the `pcap decode` fields of one DNS message to `line`, named and shaped so
/// `Tests/integration/tshark_dns.py` can hold them against tshark's `dns.*` fields.
///
/// Header fields come first and are added as far as the bytes go; a parse error then adds
/// `error` (the `WireError` text) and stops, keeping whatever was already decoded, including
/// the answers read before a malformed record.
func decodeDNS(_ payload: UnsafeRawBufferPointer, into line: inout JSONLine) {
    let error = addDNSFields(payload, into: &line)
    if let error { line.add("error", error.description) }
}

/// Returns the first error instead of throwing, so the fields before it stay on the line.
private func addDNSFields(_ payload: UnsafeRawBufferPointer, into line: inout JSONLine) -> WireError? {
    let header: DNSHeader
    do {
        header = try DNSHeader(parsing: payload)
    } catch {
        // A short header: whichever of ID and flags are whole.
        if payload.count >= 2 { line.add("id", Int(payload.uint16(at: 0))) }
        if payload.count >= 4 {
            var partial = DNSHeader()
            partial.flags = payload.uint16(at: 2)
            addFlags(partial, into: &line)
        }
        return error
    }
    line.add("id", Int(header.id))
    addFlags(header, into: &line)

    let message: DNSMessage
    do {
        message = try DNSMessage(parsing: payload)
    } catch {
        addCounts(header, into: &line)
        return error
    }
    if let question = message.question {
        line.add("qname", question.name.displayName)
        line.add("qtype", Int(question.type.rawValue))
        line.add("qclass", Int(question.dnsClass.rawValue))
    }
    addCounts(header, into: &line)

    var answers: [JSONLine] = []
    var opt: DNSOPT?
    var failure: WireError?
    var records = message.records
    do throws(WireError) {
        while let record = try records.next() {
            if record.section == .answer {
                var answer = JSONLine()
                answer.add("name", record.name.displayName)
                answer.add("type", Int(record.type.rawValue))
                answer.add("ttl", Int(record.ttl))
                answer.add("data", try record.data().description)
                answers.append(answer)
            } else if record.section == .additional, record.type == .opt, opt == nil {
                opt = try DNSOPT(parsing: record)
            }
        }
    } catch {
        failure = error
    }
    line.add("answers", objects: answers)
    if let opt {
        line.add("edns_udp_size", Int(opt.udpPayloadSize))
        line.add("edns_options", ints: opt.options.map { Int($0.code) })
    }
    return failure
}

private func addFlags(_ header: DNSHeader, into line: inout JSONLine) {
    line.add("qr", header.qr)
    line.add("opcode", Int(header.opcode))
    line.add("aa", header.aa)
    line.add("tc", header.tc)
    line.add("rd", header.rd)
    line.add("ra", header.ra)
    line.add("rcode", Int(header.rcode))
}

private func addCounts(_ header: DNSHeader, into line: inout JSONLine) {
    line.add("an_count", Int(header.answerCount))
    line.add("ns_count", Int(header.authorityCount))
    line.add("ar_count", Int(header.additionalCount))
}
