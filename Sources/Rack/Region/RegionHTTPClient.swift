import Glibc

/// A small blocking HTTP/1.1 client for the rack's link to its region: requests with a body
/// and a Content-Length or chunked response, and a streamed response read line by line. It runs
/// on the rack's region thread, never on a ring. Only `http://host:port` (the region's API is on
/// the management network; TLS belongs in front of it, `docs/region.md`).
struct RegionHTTPClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let host: String
    let port: UInt16
    /// Connect and per-read timeout, seconds.
    var timeout: Int = 10

    /// "http://region.example:5240" (path ignored).
    init(url: String) throws {
        guard url.hasPrefix("http://") else { throw Failure(description: "region URL must start with http:// (got \(url))") }
        let rest = url.dropFirst("http://".count).prefix { $0 != "/" }
        if let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) {
            host = String(rest[..<colon])
            self.port = port
        } else {
            host = String(rest)
            port = 5240
        }
        guard !host.isEmpty else { throw Failure(description: "region URL \(url) has no host") }
    }

    /// One request on a fresh connection; the whole response.
    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = [],
                 limit: Int = 512 << 20) throws -> Response {
        let connection = try Connection(host: host, port: port, timeout: timeout)
        defer { connection.close() }
        try connection.send(method, path, host: "\(host):\(port)", headers: headers, body: body)
        let (status, responseHeaders) = try connection.readHead()
        let body = try connection.readBody(headers: responseHeaders, limit: limit)
        return Response(status: status, headers: responseHeaders, body: body)
    }

    /// A GET whose body goes to `sink` piece by piece as it arrives: a boot image never sits
    /// in memory whole. Throws for any status but 200, or if the body ends early.
    func download(_ path: String, headers: [(String, String)], sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let (connection, responseHeaders) = try get(path, headers: headers, what: "GET")
        defer { connection.close() }
        try connection.streamBody(headers: responseHeaders, sink)
    }

    /// Sends a GET and reads the response head: the open connection if the status is 200, else
    /// an error with the server's message (`what` names the request in it).
    private func get(_ path: String, headers: [(String, String)], what: String) throws -> (Connection, [(String, String)]) {
        let connection = try Connection(host: host, port: port, timeout: timeout)
        do {
            try connection.send("GET", path, host: "\(host):\(port)", headers: headers, body: [])
            let (status, responseHeaders) = try connection.readHead()
            guard status == 200 else {
                let body = (try? connection.readBody(headers: responseHeaders, limit: 64 << 10)) ?? []
                throw Failure(description: "\(what) \(path): HTTP \(status) \(String(decoding: body, as: UTF8.self))")
            }
            return (connection, responseHeaders)
        } catch {
            connection.close()
            throw error
        }
    }

    /// A long-lived GET: calls `line` for every line of the (chunked or plain) body until the
    /// server closes, a read times out (`idle` seconds without even a keep-alive), or `line`
    /// returns false.
    func stream(_ path: String, headers: [(String, String)], idle: Int, line: (String) -> Bool) throws {
        let (connection, responseHeaders) = try get(path, headers: headers, what: "stream")
        defer { connection.close() }
        connection.setReadTimeout(idle)
        let chunked = responseHeaders.contains { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }
        var pending: [UInt8] = []
        while true {
            let data: [UInt8]
            if chunked {
                guard let chunk = try connection.readChunk() else { return }
                data = chunk
            } else {
                data = try connection.readSome()
                if data.isEmpty { return }
            }
            pending += data
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let text = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if !line(text.hasSuffix("\r") ? String(text.dropLast()) : text) { return }
            }
            if pending.count > 1 << 20 { throw Failure(description: "stream line over 1 MiB") }
        }
    }

    /// One TCP connection with a read buffer.
    final class Connection {
        let fd: Int32
        var buffer: [UInt8] = []

        init(host: String, port: UInt16, timeout: Int) throws {
            var hints = addrinfo()
            hints.ai_family = AF_INET
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &result)
            guard status == 0, let info = result else {
                throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
            }
            defer { freeaddrinfo(result) }
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
            setReadTimeout(timeout)
            var tv = timeval(tv_sec: timeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, 4)
            // SO_SNDTIMEO bounds connect() too on Linux.
            guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                let reason = String(cString: strerror(errno))
                Glibc.close(fd)
                throw Failure(description: "connect \(host):\(port): \(reason)")
            }
        }

        func close() { Glibc.close(fd) }

        func setReadTimeout(_ seconds: Int) {
            var tv = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }

        func send(_ method: String, _ path: String, host: String, headers: [(String, String)], body: [UInt8]) throws {
            var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
            head += "\r\n"
            try write(Array(head.utf8) + body)
        }

        private func write(_ bytes: [UInt8]) throws {
            var sent = 0
            while sent < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw Failure(description: "send: \(String(cString: strerror(errno)))") }
                sent += n
            }
        }

        /// What one recv fills: a download (47 MB of tables) goes from here to its sink.
        private var scratch = [UInt8](repeating: 0, count: 1 << 18)

        /// Receives at most `most` bytes into `scratch`; 0 at end of stream.
        private func receive(most: Int) throws -> Int {
            while true {
                let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, most), 0) }
                if n < 0, errno == EINTR { continue }
                if n < 0 {
                    throw Failure(description: errno == EAGAIN ? "read timed out" : "recv: \(String(cString: strerror(errno)))")
                }
                return n
            }
        }

        /// Reads more into the buffer; false at end of stream.
        private func fill() throws -> Bool {
            let n = try receive(most: scratch.count)
            if n == 0 { return false }
            buffer += scratch[0..<n]
            return true
        }

        func readSome() throws -> [UInt8] {
            if buffer.isEmpty, try !fill() { return [] }
            defer { buffer.removeAll() }
            return buffer
        }

        private func readLine() throws -> String {
            while true {
                if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    var line = Array(buffer[..<newline])
                    buffer.removeSubrange(...newline)
                    if line.last == UInt8(ascii: "\r") { line.removeLast() }
                    return String(decoding: line, as: UTF8.self)
                }
                guard buffer.count < 64 << 10 else { throw Failure(description: "header line over 64 KiB") }
                guard try fill() else { throw Failure(description: "connection closed in the response head") }
            }
        }

        private func readExactly(_ count: Int) throws -> [UInt8] {
            while buffer.count < count {
                guard try fill() else { throw Failure(description: "connection closed in the body") }
            }
            defer { buffer.removeSubrange(0..<count) }
            return Array(buffer[0..<count])
        }

        func readHead() throws -> (Int, [(String, String)]) {
            let statusLine = try readLine()
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
                throw Failure(description: "bad status line '\(statusLine)'")
            }
            var headers: [(String, String)] = []
            while true {
                let line = try readLine()
                if line.isEmpty { break }
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: " \t")))
                guard headers.count < 200 else { throw Failure(description: "too many headers") }
            }
            return (status, headers)
        }

        /// One chunk of a chunked body; nil after the last.
        func readChunk() throws -> [UInt8]? {
            let sizeLine = try readLine()
            guard let size = Int(sizeLine.split(separator: ";")[0].trimmingCharacters(in: " "), radix: 16), size >= 0,
                  size < 1 << 30 else { throw Failure(description: "bad chunk size '\(sizeLine)'") }
            if size == 0 {
                while try !readLine().isEmpty {}
                return nil
            }
            let data = try readExactly(size)
            _ = try readLine()
            return data
        }

        /// The Content-Length, if the response has one; a negative or unreadable one is an error.
        static func contentLength(_ headers: [(String, String)]) throws -> Int? {
            guard let value = headers.first(where: { $0.0.lowercased() == "content-length" })?.1 else { return nil }
            guard let length = Int(value), length >= 0 else { throw Failure(description: "bad Content-Length '\(value)'") }
            return length
        }

        /// The body, handed to `sink` in the pieces it arrives in.
        func streamBody(headers: [(String, String)], _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
            if let length = try Self.contentLength(headers) {
                var remaining = length
                if !buffer.isEmpty {
                    // What came with the head.
                    let take = min(remaining, buffer.count)
                    try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<take])) }
                    buffer.removeSubrange(0..<take)
                    remaining -= take
                }
                // The rest goes from the socket to the sink without passing through `buffer`.
                while remaining > 0 {
                    let n = try receive(most: remaining)
                    guard n > 0 else { throw Failure(description: "connection closed \(remaining) bytes before the end of the body") }
                    try scratch.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    remaining -= n
                }
                return
            }
            if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
                while let chunk = try readChunk() { try chunk.withUnsafeBytes { try sink($0) } }
                return
            }
            while true {
                if !buffer.isEmpty {
                    try buffer.withUnsafeBytes { try sink($0) }
                    buffer.removeAll(keepingCapacity: true)
                }
                guard try fill() else { return }
            }
        }

        func readBody(headers: [(String, String)], limit: Int) throws -> [UInt8] {
            if let length = try Self.contentLength(headers) {
                guard length <= limit else { throw Failure(description: "response of \(length) bytes is over the limit") }
                return try readExactly(length)
            }
            if headers.contains(where: { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }) {
                var body: [UInt8] = []
                while let chunk = try readChunk() {
                    body += chunk
                    guard body.count <= limit else { throw Failure(description: "response over the limit") }
                }
                return body
            }
            var body: [UInt8] = []
            while try fill() {
                guard buffer.count <= limit else { throw Failure(description: "response over the limit") }
            }
            body = buffer
            buffer.removeAll()
            return body
        }
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
