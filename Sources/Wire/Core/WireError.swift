/// Why a codec refused its input, which field it was reading, and where.
///
/// Small and allocation-free: `field` is a static string, so throwing one on a hot path costs
/// nothing beyond the three stored words. Thrown with typed `throws(WireError)`.
public struct WireError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure, with a stable name usable as a drop-reason label.
    public enum Reason: UInt8, Sendable, CaseIterable {
        /// The field runs past the end of the input.
        case truncated
        /// The field holds a value the protocol does not allow.
        case invalidValue
        /// A length field disagrees with the bytes around it.
        case invalidLength
        /// A limit of the protocol or of ours (label 63, name 255, header count) was exceeded.
        case limitExceeded
        /// A DNS compression pointer loops or points forward.
        case badPointer
        /// The output buffer is too small for what the writer was asked to write.
        case noSpace

        public var name: String {
            switch self {
            case .truncated: "truncated"
            case .invalidValue: "invalid_value"
            case .invalidLength: "invalid_length"
            case .limitExceeded: "limit_exceeded"
            case .badPointer: "bad_pointer"
            case .noSpace: "no_space"
            }
        }
    }

    public let reason: Reason
    /// The protocol field being read or written, e.g. `"dhcp.options.length"`.
    public let field: StaticString
    /// Byte offset from the start of the message where the field starts.
    public let offset: Int

    @inlinable
    public init(_ reason: Reason, _ field: StaticString, at offset: Int) {
        self.reason = reason
        self.field = field
        self.offset = offset
    }

    public var description: String {
        "\(reason.name) \(field) at offset \(offset)"
    }
}

extension WireError: Equatable {
    public static func == (lhs: WireError, rhs: WireError) -> Bool {
        lhs.reason == rhs.reason && lhs.offset == rhs.offset
            && lhs.field.description == rhs.field.description
    }
}
