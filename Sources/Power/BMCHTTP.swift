import CLibCurl
import Foundation

/// HTTP and HTTPS for the Redfish and webhook drivers, through libcurl (already linked for the
/// API client): TLS with the system's trust store or, per BMC, none at all for self-signed
/// certificates; one deadline for the whole exchange, connection included.
struct BMCHTTP: Sendable {
    struct Response: Sendable {
        var status: Int
        /// Lower-cased names.
        var headers: [String: String]
        var body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    var timeout: Double
    var verifyTLS: Bool
    /// `user:password` for HTTP basic auth, if any.
    var basicAuth: (user: String, password: String)?

    /// curl_global_init is not thread-safe: done once, before any handle exists.
    private static let initialised: Bool = curl_global_init(3 /* CURL_GLOBAL_ALL: SSL, and nothing else on Linux */) == CURLE_OK

    /// Responses larger than this are refused (a BMC's JSON is a few KiB).
    static let maximumBody = 4 << 20

    private final class Collector {
        var body: [UInt8] = []
        var headerLines: [String] = []
        var overflow = false
    }

    func request(_ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> Response {
        guard Self.initialised, let handle = curl_easy_init() else { throw PowerError(.failed, "libcurl did not initialise") }
        defer { curl_easy_cleanup(handle) }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw PowerError(.parameters, "URL '\(url)' must start with http:// or https://")
        }
        let collector = Collector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let code: CURLcode = withExtendedLifetime(collector) {
            errorBuffer.withUnsafeMutableBufferPointer { errors -> CURLcode in
                rackplane_curl_set_string(handle, CURLOPT_URL, url)
                rackplane_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
                rackplane_curl_set_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
                rackplane_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(timeout * 1000))
                rackplane_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0)
                // Only the two schemes; never file:// or anything else a parameter might name.
                rackplane_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
                rackplane_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress)
                if !verifyTLS {
                    rackplane_curl_set_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
                    rackplane_curl_set_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
                }
                if let auth = basicAuth {
                    rackplane_curl_set_long(handle, CURLOPT_HTTPAUTH, 1 /* CURLAUTH_BASIC, a cast macro Swift does not import */)
                    rackplane_curl_set_string(handle, CURLOPT_USERNAME, auth.user)
                    rackplane_curl_set_string(handle, CURLOPT_PASSWORD, auth.password)
                }
                rackplane_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, method)
                if method == "HEAD" { rackplane_curl_set_long(handle, CURLOPT_NOBODY, 1) }
                for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
                // curl would otherwise add "Expect: 100-continue" and wait for it.
                list = curl_slist_append(list, "Expect:")
                rackplane_curl_set_pointer(handle, CURLOPT_HTTPHEADER, list)
                let payload = body ?? []
                return payload.withUnsafeBytes { bytes -> CURLcode in
                    if body != nil {
                        rackplane_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, bytes.count)
                        rackplane_curl_set_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
                    }
                    rackplane_curl_set_pointer(handle, CURLOPT_WRITEDATA, context)
                    rackplane_curl_set_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                        let collector = Unmanaged<Collector>.fromOpaque(context!).takeUnretainedValue()
                        let length = size * count
                        guard collector.body.count + length <= BMCHTTP.maximumBody else {
                            collector.overflow = true
                            return 0
                        }
                        if let data { collector.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
                        return length
                    }
                    rackplane_curl_set_pointer(handle, CURLOPT_HEADERDATA, context)
                    rackplane_curl_set_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
                        let collector = Unmanaged<Collector>.fromOpaque(context!).takeUnretainedValue()
                        let length = size * count
                        if let data {
                            collector.headerLines.append(String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
                        }
                        return length
                    }
                    return curl_easy_perform(handle)
                }
            }
        }
        let detail = String(cString: errorBuffer)
        guard code == CURLE_OK else { throw Self.error(code, url: url, detail: detail, overflow: collector.overflow) }
        var status = 0
        rackplane_curl_response_code(handle, &status)
        var parsed: [String: String] = [:]
        for line in collector.headerLines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            parsed[name] = value
        }
        return Response(status: status, headers: parsed, body: collector.body)
    }

    /// libcurl's failure as the class an operator acts on.
    static func error(_ code: CURLcode, url: String, detail: String, overflow: Bool) -> PowerError {
        let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let host = URLComponents(string: url)?.host ?? url
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR, CURLE_SEND_ERROR,
             CURLE_GOT_NOTHING:
            return PowerError(.unreachable, "BMC \(host) unreachable: \(reason)")
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM:
            return PowerError(.certificate, "BMC \(host): TLS certificate not trusted (\(reason)); set verify_tls to false to accept a self-signed one")
        case CURLE_WRITE_ERROR where overflow:
            return PowerError(.failed, "BMC \(host): response over \(maximumBody) bytes")
        default:
            return PowerError(.failed, "BMC \(host): \(reason)")
        }
    }
}
