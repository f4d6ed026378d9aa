extension Array {
    /// Grows the array with `filler` until `index` is a valid subscript. Tables indexed by
    /// socket or connection grow with the highest index in use. The free lists are stacks that
    /// start with the lowest index on top, so an index never used is handed out only when every
    /// lower one is in use: a table is never longer than the most entries open at once. Filled
    /// to their maxima at start, the rack's tables held about 9 MiB per ring that an idle or
    /// UDP-only rack never used.
    @inlinable
    public mutating func grow(toInclude index: Int, with filler: @autoclosure () -> Element) {
        guard index >= count else { return }
        let value = filler()
        append(contentsOf: repeatElement(value, count: index + 1 - count))
    }
}
