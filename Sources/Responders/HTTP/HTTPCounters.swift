import Wire

/// One ring's image-HTTP counters. Written only by the ring's thread; the metrics endpoint
/// (another ring) reads them and tolerates a torn read, as for `RingCounters`. Storage is
/// allocated once, so counting is an increment and never a copy-on-write.
public final class HTTPCounters: @unchecked Sendable {
    /// The statuses the server sends, in the order of `requests`.
    public static let statuses: [HTTPStatus] = [
        .ok, .partialContent, .notModified, .badRequest, .forbidden, .notFound, .methodNotAllowed,
        .requestTimeout, .uriTooLong, .rangeNotSatisfiable, .requestHeaderFieldsTooLarge,
        .internalServerError, .notImplemented, .serviceUnavailable, .httpVersionNotSupported,
    ]

    private let storage: UnsafeMutableBufferPointer<UInt64>
    /// Response head bytes and body bytes (file and generated) handed to the engine.
    public var headBytesSent: UInt64 = 0
    public var bodyBytesSent: UInt64 = 0
    /// Boot configs rendered for HTTP requests.
    public var bootConfigsServed: UInt64 = 0
    /// A response was cut short: the connection closed (client, timeout) before it was out.
    public var responsesAborted: UInt64 = 0

    public init() {
        storage = .allocate(capacity: Self.statuses.count)
        storage.initialize(repeating: 0)
    }

    deinit { storage.deallocate() }

    @inline(__always)
    public func count(_ status: HTTPStatus) {
        storage[Self.index(of: status.code)] &+= 1
    }

    /// Requests answered with `status`.
    public func requests(_ status: HTTPStatus) -> UInt64 { storage[Self.index(of: status.code)] }

    @inline(__always)
    static func index(of code: UInt16) -> Int {
        switch code {
        case 200: 0
        case 206: 1
        case 304: 2
        case 400: 3
        case 403: 4
        case 404: 5
        case 405: 6
        case 408: 7
        case 414: 8
        case 416: 9
        case 431: 10
        case 500: 11
        case 501: 12
        case 503: 13
        default: 14
        }
    }
}
