import Wire

/// What a server does with one received payload, as a function returning a value derived from
/// everything it read, so the optimizer cannot drop the work. Each returns -1 if the codec
/// rejects the payload (never the case for the sets in `WireCorpus`).
public enum Workloads {
    /// DHCP: parse, walk every option, and read the fields the DHCP/proxyDHCP responder reads,
    /// each the non-allocating way (raw views through `withOption`, prefix and contains tests).
    @inlinable
    public static func dhcpFullScan(_ payload: UnsafeRawBufferPointer) -> Int {
        guard let message = try? DHCPMessage(parsing: payload) else { return -1 }
        var acc = Int(message.xid) &+ Int(message.flags)
        for option in message.options {
            acc &+= Int(option.code) &+ option.value.count
        }
        acc &+= Int(message.messageType?.rawValue ?? 0)
        acc &+= Int((try? message.requestedIPAddress())?.value ?? 0)                       // 50
        acc &+= Int((try? message.serverIdentifier())?.value ?? 0)                         // 54
        acc &+= message.withOption(DHCPOptionCode.parameterRequestList) { prl in            // 55
            var sum = 0
            for code in prl { sum &+= Int(code) }
            return sum
        } ?? 0
        acc &+= Int((try? message.maximumMessageSize()) ?? 0)                        // 57
        acc &+= message.vendorClassHasPrefix("PXEClient") ? 1 : 0                           // 60
        acc &+= message.withOption(DHCPOptionCode.clientIdentifier) { $0.count } ?? 0      // 61
        acc &+= message.userClassContains("iPXE") ? 2 : 0                                   // 77
        acc &+= message.withOption(DHCPOptionCode.relayAgentInformation) { value in        // 82
            // The responder echoes 82 whole and looks up only circuit-id and remote-id.
            let circuit = (try? DHCPSubOptionIterator.find(RelayAgentSubOption.circuitID, in: value))?.count ?? 0
            let remote = (try? DHCPSubOptionIterator.find(RelayAgentSubOption.remoteID, in: value))?.count ?? 0
            return circuit &+ remote
        } ?? 0
        acc &+= Int((try? message.clientSystemArchitecture()) ?? 0)                  // 93
        return acc
    }

    /// DHCP: `DHCPMessage(parsing:)` alone (header, cookie, one validating option walk).
    @inlinable
    public static func dhcpParseOnly(_ payload: UnsafeRawBufferPointer) -> Int {
        guard let message = try? DHCPMessage(parsing: payload) else { return -1 }
        return Int(message.rawMessageType ?? 0) &+ (message.hasRepeatedOptions ? 1 : 0)
    }

    /// DNS query: parse (header and validated question section) and read the first question.
    @inlinable
    public static func dnsQuery(_ payload: UnsafeRawBufferPointer) -> Int {
        guard let message = try? DNSMessage(parsing: payload), let question = message.question else { return -1 }
        return Int(message.header.id) &+ question.name.wireLength &+ question.name.labelCount
            &+ Int(question.type.rawValue) &+ Int(question.dnsClass.rawValue)
    }

    /// DNS response: parse, then every record of every section with its RDATA decoded by type.
    @inlinable
    public static func dnsResponse(_ payload: UnsafeRawBufferPointer) -> Int {
        guard let message = try? DNSMessage(parsing: payload) else { return -1 }
        var acc = Int(message.header.id) &+ (message.question?.name.wireLength ?? 0)
        var records = message.records
        do throws(WireError) {
            while let record = try records.next() {
                acc &+= record.name.wireLength &+ Int(record.type.rawValue) &+ Int(record.dnsClass.rawValue)
                acc &+= Int(record.ttl) &+ record.rdataLength
                switch try record.data() {
                case .a(let address): acc &+= Int(address.value)
                case .ns(let name), .cname(let name), .ptr(let name): acc &+= name.wireLength
                case .mx(let preference, let exchange): acc &+= Int(preference) &+ exchange.wireLength
                default: acc &+= 1
                }
            }
        } catch {
            return -1
        }
        return acc
    }

    /// TFTP: parse, and for a request read the filename, mode and negotiated option values.
    @inlinable
    public static func tftp(_ payload: UnsafeRawBufferPointer) -> Int {
        guard let packet = try? TFTPPacket.parse(payload) else { return -1 }
        switch packet {
        case .readRequest(let request), .writeRequest(let request):
            var acc = request.filename.count &+ request.modeBytes.count
            if let values = try? request.options.values() {
                acc &+= Int(values.blockSize ?? 0) &+ Int(truncatingIfNeeded: values.transferSize ?? 0)
                acc &+= Int(values.timeout ?? 0) &+ Int(values.windowSize ?? 0)
            }
            return acc
        case .data(let data):
            return Int(data.block) &+ data.payload.count
        case .acknowledgement(let block):
            return Int(block)
        case .error(let error):
            return Int(error.code) &+ error.message.count
        case .optionAcknowledgement(let options):
            return options.isEmpty ? 0 : 1
        }
    }

    /// HTTP: parse the request head, then the fields the boot server acts on.
    @inlinable
    public static func httpHead(_ payload: UnsafeRawBufferPointer) -> Int {
        guard case .complete(let head)? = try? HTTPRequestHead.parse(payload) else { return -1 }
        var acc = head.length &+ head.target.count &+ head.headerCount
        acc &+= head.method == .get ? 1 : 2
        acc &+= (try? head.host())?.count ?? 0
        acc &+= head.isPersistent ? 1 : 0
        if let ranges = try? head.range() {
            for range in ranges {
                if case .some = range.resolved(size: 1 << 30) { acc &+= 1 }
            }
        }
        if let condition = try? head.ifNoneMatch() {
            acc &+= condition.matches(opaque: UnsafeRawBufferPointer(start: nil, count: 0)) ? 1 : 3
        }
        return acc
    }

    /// Not a codec: copies the payload into a new array, one heap allocation per packet. It
    /// exists to show the allocation counter counts (expected: exactly 1 per packet).
    @inline(never)
    public static func copyPayload(_ payload: UnsafeRawBufferPointer) -> Int {
        let copy = Array(payload)
        return copy.count &+ Int(copy.first ?? 0)
    }
}
