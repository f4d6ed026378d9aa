/// The first two bytes of every TFTP packet (RFC 1350 §5; OACK from RFC 2347).
public enum TFTPOpcode: UInt16, Sendable, CaseIterable {
    case readRequest = 1
    case writeRequest = 2
    case data = 3
    case acknowledgement = 4
    case error = 5
    case optionAcknowledgement = 6
}

/// Transfer mode of a request. RFC 1350 §5: "The mode field contains the string "netascii",
/// "octet", or "mail" (or any combination of upper and lower case, such as "NETASCII",
/// NetAscii", etc.)".
public enum TFTPMode: Sendable, CaseIterable {
    case netascii
    case octet
    case mail

    /// The mode named by `bytes` ignoring case; nil for any other name.
    @inlinable
    public init?(bytes: UnsafeRawBufferPointer) {
        if ASCII.equalsIgnoringCase(bytes, "octet") {
            self = .octet
        } else if ASCII.equalsIgnoringCase(bytes, "netascii") {
            self = .netascii
        } else if ASCII.equalsIgnoringCase(bytes, "mail") {
            self = .mail
        } else {
            return nil
        }
    }

    /// The lower-case name as written on the wire.
    public var name: StaticString {
        switch self {
        case .netascii: "netascii"
        case .octet: "octet"
        case .mail: "mail"
        }
    }
}

/// Error codes of an ERROR packet: 0–7 from RFC 1350 Appendix I, 8 from RFC 2347.
public enum TFTPErrorCode: UInt16, Sendable, CaseIterable {
    /// "Not defined, see error message (if any)."
    case notDefined = 0
    case fileNotFound = 1
    case accessViolation = 2
    case diskFull = 3
    case illegalOperation = 4
    case unknownTransferID = 5
    case fileAlreadyExists = 6
    case noSuchUser = 7
    /// RFC 2347: sent by a client that refuses the server's OACK.
    case optionNegotiationFailed = 8
}
