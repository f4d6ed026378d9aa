/// Why a snapshot was refused. `check` and `open` report the first problem found, with enough
/// detail for an operator to tell corruption from a version mismatch.
public struct TablesError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        case io
        case truncated
        case badMagic = "bad_magic"
        case wrongVersion = "wrong_version"
        case badLength = "bad_length"
        case checksumMismatch = "checksum_mismatch"
        case badSection = "bad_section"
        case indexOutOfRange = "index_out_of_range"
        case badHashTable = "bad_hash_table"
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
