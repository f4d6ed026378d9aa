import Responders

extension MetricsText {
    static let rcodeNames = ["noerror", "formerr", "servfail", "nxdomain", "notimp", "refused", "yxdomain", "yxrrset",
                             "nxrrset", "notauth", "notzone", "rcode11", "rcode12", "rcode13", "rcode14", "rcode15", "badvers"]

    /// DNS counters summed over the rings (each ring counts its own; reads here are relaxed).
    static func renderDNS(_ services: [DNSService]) -> String {
        guard !services.isEmpty else { return "" }
        var out = ""
        func metric(_ name: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n" }
        func sum(_ value: (DNSCounters) -> UInt64) -> UInt64 {
            services.reduce(UInt64(0)) { $0 + value($1.counters) + value($1.forwarderCounters) }
        }
        metric("rackplane_dns_queries_total", "DNS queries received, by transport.")
        out += "rackplane_dns_queries_total{transport=\"udp\"} \(sum { $0.queriesUDP })\n"
        out += "rackplane_dns_queries_total{transport=\"tcp\"} \(sum { $0.queriesTCP })\n"
        metric("rackplane_dns_responses_total", "DNS responses from the zones and errors, by RCODE.")
        for (index, name) in rcodeNames.enumerated() {
            let n = sum { $0.responses[index] }
            if n > 0 || index == 0 || index == 3 || index == 5 { out += "rackplane_dns_responses_total{rcode=\"\(name)\"} \(n)\n" }
        }
        metric("rackplane_dns_dropped_total", "DNS queries dropped, by reason.")
        for reason in DNSDropReason.allCases {
            out += "rackplane_dns_dropped_total{reason=\"\(reason.name)\"} \(sum { $0.dropped[reason.rawValue] })\n"
        }
        metric("rackplane_dns_format_errors_total", "Queries answered FORMERR, by reason.")
        for reason in DNSFormatError.allCases {
            out += "rackplane_dns_format_errors_total{reason=\"\(reason.name)\"} \(sum { $0.formatErrors[reason.rawValue] })\n"
        }
        metric("rackplane_dns_truncated_total", "UDP answers cut to the question with TC set.")
        out += "rackplane_dns_truncated_total \(sum { $0.truncated })\n"
        metric("rackplane_dns_rate_limit_slipped_total", "Rate-limited responses sent as empty TC answers.")
        out += "rackplane_dns_rate_limit_slipped_total \(sum { $0.slipped })\n"
        metric("rackplane_dns_forwarded_total", "Queries sent to an upstream server.")
        out += "rackplane_dns_forwarded_total \(sum { $0.forwarded })\n"
        metric("rackplane_dns_cache_hits_total", "Forwardable queries answered from the cache.")
        out += "rackplane_dns_cache_hits_total \(sum { $0.cacheHits })\n"
        metric("rackplane_dns_upstream_timeouts_total", "Forwarded queries whose upstream did not answer in time.")
        out += "rackplane_dns_upstream_timeouts_total \(sum { $0.upstreamTimeouts })\n"
        metric("rackplane_dns_transfers_total", "Zone transfers (AXFR) served.")
        out += "rackplane_dns_transfers_total \(sum { $0.transfers })\n"
        return out
    }
}
