import Responders
import Wire

extension MetricsText {
    /// The image server's counters, summed over rings (each ring has its own service).
    static func renderHTTP(_ services: [HTTPService]) -> String {
        var out = ""
        func metric(_ name: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n" }
        metric("rackplane_http_requests_total", "Image HTTP responses, by status code.")
        for status in HTTPCounters.statuses {
            let n = services.reduce(UInt64(0)) { $0 + $1.counters.requests(status) }
            out += "rackplane_http_requests_total{code=\"\(status.code)\"} \(n)\n"
        }
        metric("rackplane_http_sent_bytes_total", "Image HTTP bytes handed to the kernel, by part (head, body).")
        out += "rackplane_http_sent_bytes_total{part=\"head\"} \(services.reduce(UInt64(0)) { $0 + $1.counters.headBytesSent })\n"
        out += "rackplane_http_sent_bytes_total{part=\"body\"} \(services.reduce(UInt64(0)) { $0 + $1.counters.bodyBytesSent })\n"
        metric("rackplane_http_boot_configs_total", "Boot configs rendered for HTTP requests.")
        out += "rackplane_http_boot_configs_total \(services.reduce(UInt64(0)) { $0 + $1.counters.bootConfigsServed })\n"
        metric("rackplane_http_responses_aborted_total", "Responses cut short by the connection closing.")
        out += "rackplane_http_responses_aborted_total \(services.reduce(UInt64(0)) { $0 + $1.counters.responsesAborted })\n"
        return out
    }
}
