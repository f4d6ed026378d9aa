/// A dictionary keyed by byte strings (names, encoded answers) that hashes a key in one call
/// over its bytes: an array's own `hash(into:)` feeds the hasher one byte at a time, which
/// made hashing most of a 100k-machine compile.
public struct BytesDictionary<Value> {
    struct Key: Hashable {
        let bytes: [UInt8]
        func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    }

    private var storage: [Key: Value] = [:]

    public init() {}

    public init(minimumCapacity: Int) { storage = Dictionary(minimumCapacity: minimumCapacity) }

    public subscript(_ key: [UInt8]) -> Value? {
        get { storage[Key(bytes: key)] }
        _modify { yield &storage[Key(bytes: key)] }
    }

    public subscript(_ key: [UInt8], default defaultValue: @autoclosure () -> Value) -> Value {
        get { storage[Key(bytes: key), default: defaultValue()] }
        _modify { yield &storage[Key(bytes: key), default: defaultValue()] }
    }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }
    /// In no particular order.
    public var keys: [[UInt8]] { storage.keys.map(\.bytes) }
    public var values: some Collection<Value> { storage.values }
}

extension BytesDictionary: Sendable where Value: Sendable {}
