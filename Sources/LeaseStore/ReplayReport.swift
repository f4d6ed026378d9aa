/// What opening the journal found.
public struct ReplayReport: Sendable, Equatable {
    /// A damaged record with intact records after it: bit rot or an overwrite, not a crash.
    public struct Corruption: Sendable, Equatable {
        /// File offset of the first bad frame; replay stopped here.
        public var offset: Int
        /// Valid records found past the damage and not applied (they stay in `preservedAt`).
        public var recordsDiscarded: Int
        /// Bytes from `offset` to the end of the damaged file.
        public var bytesDiscarded: Int
        /// The damaged file, kept under this name (a hard link to the old inode) for inspection.
        public var preservedAt: String
    }

    /// Records applied to `LeaseJournal.leases`.
    public var recordsReplayed = 0
    /// Bytes cut from the end because the last frame was incomplete or invalid with nothing valid
    /// after it: a write that a crash interrupted, never committed, so never acknowledged.
    public var tornTailBytes = 0
    /// Set when replay stopped at damage in the middle of the file.
    public var corruption: Corruption?

    /// True when the file replayed to its end untouched.
    public var isClean: Bool { tornTailBytes == 0 && corruption == nil }
}
