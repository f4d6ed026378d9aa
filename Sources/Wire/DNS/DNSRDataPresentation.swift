/// Text of RDATA, matching the value tshark shows where it shows one. Allocates; for logs,
/// JSON and tests.
///
/// | type | form | tshark field(s) |
/// |---|---|---|
/// | A | `198.18.0.1` | `dns.a` |
/// | AAAA | RFC 5952, `2001:db8::1` | `dns.aaaa` |
/// | NS, CNAME, PTR | name, no trailing dot, root `<Root>` | `dns.ns`, `dns.cname`, `dns.ptr.domain_name` |
/// | MX | `10 mx.maas.test` | `dns.mx.preference`, `dns.mx.mail_exchange` |
/// | SOA | `mname rname serial refresh retry expire minimum` (dig's order) | `dns.soa.*` |
/// | TXT | each string in quotes, space-separated: `"v=spf1" "-all"`; `"` and `\` escaped with `\`, other bytes outside 0x20–0x7E as `\DDD`; empty RDATA is empty text | `dns.txt` (one per string) |
/// | SRV | `priority weight port target` | `dns.srv.*` |
/// | OPT | `udp 4096 rcode 0 version 0 do 0 options 10,8` | `dns.rr.udp_payload_size`, `dns.opt.code` |
/// | other | bytes as colon-separated hex, `0a:00:00:01` | `dns.data` |
extension DNSRData: CustomStringConvertible {
    public var description: String {
        switch self {
        case .a(let address): return address.description
        case .aaaa(let address): return address.description
        case .ns(let name), .cname(let name), .ptr(let name): return name.displayName
        case .mx(let preference, let exchange): return "\(preference) \(exchange.displayName)"
        case .soa(let soa):
            return "\(soa.mname.displayName) \(soa.rname.displayName) \(soa.serial) \(soa.refresh) \(soa.retry) \(soa.expire) \(soa.minimum)"
        case .txt(let txt):
            var text = ""
            for string in txt {
                if !text.isEmpty { text += " " }
                text += "\""
                for byte in string {
                    switch byte {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                        text += "\\"
                        text.unicodeScalars.append(Unicode.Scalar(byte))
                    case 0x20...0x7E:
                        text.unicodeScalars.append(Unicode.Scalar(byte))
                    default:
                        appendDecimalEscape(byte, to: &text)
                    }
                }
                text += "\""
            }
            return text
        case .srv(let srv):
            return "\(srv.priority) \(srv.weight) \(srv.port) \(srv.target.displayName)"
        case .opt(let opt):
            let codes = opt.options.map { String($0.code) }.joined(separator: ",")
            return "udp \(opt.udpPayloadSize) rcode \(opt.extendedRCode) version \(opt.version) do \(opt.dnssecOK ? 1 : 0) options \(codes)"
        case .unknown(_, let bytes):
            return hexString(bytes, separator: ":")
        }
    }
}
