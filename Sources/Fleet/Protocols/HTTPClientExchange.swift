import Wire

/// A boot loader's HTTP fetches: GET each path in turn on one keep-alive connection (a new one
/// when the server closes), as a value-type state machine. The caller does the I/O; bodies are
/// only counted, never kept (the driver discards them in the kernel with MSG_TRUNC).
public struct HTTPClientExchange: Sendable {
    public enum Phase: Sendable, Equatable {
        case request
        case head
        /// Body bytes still to come; nil for a body delimited by the server closing.
        case body(remaining: UInt64?)
        case done
    }

    public enum Progress: Sendable, Equatable {
        case needMore
        /// The head is in: `remaining` body bytes to read (nil: until the connection closes).
        case body(remaining: UInt64?)
        /// One response is complete; `reconnect` when the server will not keep the connection.
        case responseComplete(reconnect: Bool)
        case failed(reason: String, detail: String)
    }

    /// The Host header value ("198.18.0.1:5248").
    public let host: String
    public let paths: [String]
    public private(set) var index = 0
    public private(set) var phase = Phase.request
    public private(set) var bodyBytes: UInt64 = 0
    public private(set) var headBytes = 0
    /// The status of the last response head read.
    public private(set) var lastStatus: UInt16 = 0
    /// Whether a status other than 200 fails the exchange (a boot loader's view); capture
    /// replay counts any response as an answer and reads its body all the same.
    public var requireOK = true
    private var head: [UInt8] = []
    private var keepAlive = true

    public init(host: String, paths: [String]) {
        self.host = host
        self.paths = paths
    }

    /// For a request the caller wrote itself (a captured head): wait for its response.
    public mutating func expectResponse() {
        phase = .head
        head.removeAll(keepingCapacity: true)
    }

    public var currentPath: String { paths[index] }
    public var isDone: Bool { phase == .done }

    /// Writes the GET for the current path; the phase moves to reading the head.
    public mutating func writeRequest(into buffer: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        var writer = WireWriter(buffer)
        try writer.writeBytes("GET ", "http.request.line")
        let path = paths[index]
        if !path.hasPrefix("/") { try writer.writeUInt8(UInt8(ascii: "/"), "http.request.target") }
        for byte in path.utf8 {
            // Only what a request-target may hold; a space or control would split the request.
            guard byte > 0x20, byte < 0x7F else { throw WireError(.invalidValue, "http.request.target", at: writer.count) }
            try writer.writeUInt8(byte, "http.request.target")
        }
        try writer.writeBytes(" HTTP/1.1\r\nHost: ", "http.request.line")
        for byte in host.utf8 { try writer.writeUInt8(byte, "http.header.host") }
        try writer.writeBytes("\r\nUser-Agent: rackplane-loadgen\r\nAccept: */*\r\n\r\n", "http.header")
        phase = .head
        head.removeAll(keepingCapacity: true)
        return writer.count
    }

    /// Feeds bytes received while the head is incomplete.
    public mutating func receiveHead(_ bytes: UnsafeRawBufferPointer) -> Progress {
        head.append(contentsOf: bytes)
        let parsed: Result<(HTTPResponseParseResult, Int, UInt64?, Bool, Bool, UInt16), WireError> = head.withUnsafeBytes { raw in
            do throws(WireError) {
                let result = try HTTPResponseView.parse(raw)
                guard case .complete(let view) = result else { return .success((result, 0, nil, false, false, 0)) }
                let length = view.hasBody(requestWasHead: false) ? try view.contentLength() : 0
                return .success((result, view.length, length, view.isPersistent, view.hasTransferEncoding, view.status))
            } catch {
                return .failure(error)
            }
        }
        switch parsed {
        case .failure(let error):
            phase = .done
            return .failed(reason: "bad response", detail: "\(error)")
        case .success(let (result, length, contentLength, persistent, chunked, status)):
            guard case .complete = result else { return .needMore }
            headBytes += length
            keepAlive = persistent
            lastStatus = status
            guard status == 200 || !requireOK else {
                phase = .done
                return .failed(reason: "status \(status)", detail: "GET \(currentPath): \(status)")
            }
            guard !chunked else {
                phase = .done
                return .failed(reason: "bad response", detail: "GET \(currentPath): chunked bodies are not counted")
            }
            let extra = UInt64(head.count - length)
            head.removeAll(keepingCapacity: true)
            if let contentLength {
                guard extra <= contentLength else {
                    phase = .done
                    return .failed(reason: "bad response", detail: "GET \(currentPath): more bytes than Content-Length")
                }
                bodyBytes += extra
                phase = .body(remaining: contentLength - extra)
                if contentLength == extra { return finishResponse() }
                return .body(remaining: contentLength - extra)
            }
            keepAlive = false
            bodyBytes += extra
            phase = .body(remaining: nil)
            return .body(remaining: nil)
        }
    }

    /// Counts `count` body bytes read (discarded) from the connection.
    public mutating func receiveBody(count: Int) -> Progress {
        guard case .body(let remaining) = phase else { return .failed(reason: "bad response", detail: "bytes after the response") }
        bodyBytes += UInt64(count)
        guard let remaining else { return .body(remaining: nil) }
        guard UInt64(count) <= remaining else { return .failed(reason: "bad response", detail: "more bytes than Content-Length") }
        if UInt64(count) == remaining { return finishResponse() }
        phase = .body(remaining: remaining - UInt64(count))
        return .body(remaining: remaining - UInt64(count))
    }

    /// The server closed the connection: the end of a close-delimited body, or a failure.
    public mutating func connectionClosed() -> Progress {
        if case .body(nil) = phase { return finishResponse() }
        let during = phase == .head && head.isEmpty ? "before the response" : "in the middle of the response"
        phase = .done
        return .failed(reason: "closed", detail: "GET \(currentPath): connection closed \(during)")
    }

    private mutating func finishResponse() -> Progress {
        index += 1
        if index == paths.count {
            phase = .done
            return .responseComplete(reconnect: false)
        }
        phase = .request
        return .responseComplete(reconnect: !keepAlive)
    }
}
