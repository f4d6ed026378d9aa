/// A dictionary keyed by byte strings (names, encoded answers) that hashes a key in one call
/// over its bytes: an array's own `hash(into:)` feeds the hasher one byte at a time, which
/// made hashing most of a 100k-machine compile. Inlinable, so that users in other modules get
/// it specialised for their value type instead of looking up generic metadata per call.
public struct BytesDictionary<Value> {
    /// A slice, so that a suffix of a name is a key without a copy.
    @usableFromInline
    struct Key: Hashable, Sendable {
        @usableFromInline let bytes: ArraySlice<UInt8>
        @inlinable init(bytes: ArraySlice<UInt8>) { self.bytes = bytes }
        @inlinable func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
        @inlinable static func == (a: Key, b: Key) -> Bool { a.bytes.elementsEqual(b.bytes) }
    }

    @usableFromInline var storage: [Key: Value] = [:]

    @inlinable public init() {}

    @inlinable public init(minimumCapacity: Int) { storage = Dictionary(minimumCapacity: minimumCapacity) }

    @inlinable
    public subscript(_ key: [UInt8]) -> Value? {
        get { storage[Key(bytes: key[...])] }
        _modify { yield &storage[Key(bytes: key[...])] }
    }

    /// A lookup by a slice (a name's suffix) without copying it.
    @inlinable
    public subscript(_ key: ArraySlice<UInt8>) -> Value? { storage[Key(bytes: key)] }

    @inlinable
    public subscript(_ key: [UInt8], default defaultValue: @autoclosure () -> Value) -> Value {
        get { storage[Key(bytes: key[...]), default: defaultValue()] }
        _modify { yield &storage[Key(bytes: key[...]), default: defaultValue()] }
    }

    @inlinable public var count: Int { storage.count }
    @inlinable public var isEmpty: Bool { storage.isEmpty }
    /// In no particular order.
    @inlinable public var keys: [[UInt8]] { storage.keys.map { Array($0.bytes) } }
    @inlinable public var values: some Collection<Value> { storage.values }
}

extension BytesDictionary: Sendable where Value: Sendable {}
