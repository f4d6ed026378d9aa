extension Array {
    /// Grows the array with `filler` until `index` is a valid subscript. Tables indexed by
    /// connection grow with the highest index in use, which the lowest-first free list keeps at
    /// the peak number of connections: filled to `maxConnections` at start, the rack's tables
    /// held about 7 MiB per ring that an idle or UDP-only rack never used.
    @inlinable
    public mutating func grow(toInclude index: Int, with filler: @autoclosure () -> Element) {
        guard index >= count else { return }
        let value = filler()
        append(contentsOf: repeatElement(value, count: index + 1 - count))
    }
}
