import Foundation
import Glibc

/// Reads a held-open `text/event-stream` response over a plain socket: HummingbirdTesting's
/// client waits for a whole response, which a stream never finishes. Blocking reads run on a
/// thread of their own, not on Swift's cooperative pool.
final class EventStreamClient: @unchecked Sendable {
    private let socket: Int32
    private var buffer: [UInt8] = []
    private var scanned = 0

    /// Connects to 127.0.0.1:`port` and sends the request. Reads give up after 60 s so a broken
    /// test fails instead of hanging; that is a guard, not something the tests measure.
    init(port: Int, path: String, authorization: String) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HarnessError("connect: \(String(cString: strerror(errno)))") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nAuthorization: \(authorization)\r\nAccept: text/event-stream\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(socket, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw HarnessError("send: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(socket) }

    /// Everything received so far, as text.
    var received: String { String(decoding: buffer, as: UTF8.self) }

    /// The next `data:` payload, or nil when the stream ended.
    func nextData() async throws -> String? {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try self.readData() })
            }.start()
        }
    }

    private func readData() throws -> String? {
        while true {
            // Lines are split across chunk framing only at chunk boundaries, which the region
            // writes one event at a time: a `data:` line arrives whole.
            let text = String(decoding: buffer[scanned...], as: UTF8.self)
            if let start = text.range(of: "data: "), let end = text[start.upperBound...].range(of: "\n") {
                let payload = String(text[start.upperBound..<end.lowerBound])
                scanned += text[..<end.upperBound].utf8.count
                return payload
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count == 0 { return nil }
            guard count > 0 else { throw HarnessError("recv: \(String(cString: strerror(errno)))") }
            buffer += chunk[0..<count]
        }
    }
}
