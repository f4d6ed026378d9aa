import Glibc

/// The rack's DHCP lease journal: an append-only file, `leases.journal` in the state directory,
/// with group commit.
///
/// The DHCP server appends the records of a whole batch (`append` only encodes into memory),
/// calls `commit()` once — one write, one `fdatasync` — and only then lets the batch's ACKs
/// leave. On start the journal replays the file into `leases`.
///
/// `leases` holds the latest record for every address the journal has seen, whatever its state:
/// released and expired entries are kept so a returning client can get its old address back, and
/// declined ones carry their quarantine. The map is bounded by the pools' size. `compact()` writes
/// exactly this map (or, with `keepingInactive: false`, only bound and declined entries, and drops
/// the rest from the map too).
///
/// `leases` already includes appended records that are not yet committed (`pendingCount` of them);
/// `durableSequence` is the highest sequence that is on disk. Not thread-safe: one owner.
public final class LeaseJournal {
    public struct Options: Sendable {
        /// Bytes reserved for a batch up front; a larger batch grows the buffer once, for good.
        public var bufferCapacity = 64 * 1024
        /// `needsCompaction` once the file is this many times the size of the live set ...
        public var compactionFactor = 4
        /// ... and at least this large (a small journal is not worth rewriting).
        public var compactionMinimumBytes = 1 << 20

        public init() {}
    }

    public static let fileName = "leases.journal"

    public let directory: String
    /// `directory/leases.journal`.
    public let path: String
    public let options: Options

    /// The latest record per address: replayed, plus everything appended since.
    public private(set) var leases: [UInt32: LeaseRecord]
    /// What opening the file found: torn tail cut, or damage in the middle.
    public private(set) var replayReport: ReplayReport
    /// Records appended since the last successful commit (or compaction).
    public private(set) var pendingCount = 0
    /// The sequence the next `append` will return.
    public private(set) var nextSequence: UInt64
    /// Every record with a sequence up to this is durable (0: none yet).
    public private(set) var durableSequence: UInt64
    /// Bytes of the journal file on disk (committed records and the header).
    public private(set) var fileSize: Int
    /// Bytes the live set takes as records: what a compaction would write, less the header.
    public private(set) var liveBytes: Int
    /// `fdatasync`/`fsync` calls this journal made (commits, truncations, compactions).
    public private(set) var syncCount = 0
    /// `pwrite` calls this journal made.
    public private(set) var writeCount = 0
    public private(set) var compactionCount = 0

    /// The file has grown past `compactionFactor` × the live set (and past the minimum size):
    /// call `compact()` between batches.
    public var needsCompaction: Bool {
        let size = fileSize + pending.count
        return size > options.compactionMinimumBytes
            && size > options.compactionFactor * (JournalFormat.headerSize + liveBytes)
    }

    private var descriptor: Int32
    private var pending: ByteBuffer
    /// A failed write or sync leaves the file's state unknown (after a failed `fdatasync` Linux
    /// may already have dropped the dirty pages), so the journal refuses to commit again until a
    /// `compact()` has rewritten the whole file from memory.
    private var failure: JournalError?

    /// Opens `directory/leases.journal`, creating the directory and the file if needed, and
    /// replays it. A torn tail is cut off; damage in the middle stops the replay, is reported in
    /// `replayReport`, the damaged file is kept beside the journal, and the journal is rewritten
    /// from the records before the damage.
    public init(directory: String, options: Options = Options()) throws(JournalError) {
        var directory = directory
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        self.directory = directory
        let path = directory + "/" + Self.fileName
        self.path = path
        self.options = options
        pending = ByteBuffer(capacity: options.bufferCapacity)

        try Self.makeDirectories(directory)
        unlink(Self.temporaryPath(path))   // a compaction that a crash interrupted

        var fd = open(path, O_RDWR | O_CLOEXEC)
        var createdSyncs = 0
        if fd < 0 {
            guard errno == ENOENT else { throw JournalError(call: "open", errno: errno, path: path) }
            fd = try Self.create(path: path, directory: directory, baseSequence: 1)
            createdSyncs = 2
        }
        var size = 0
        do throws(JournalError) {
            var status = stat()
            _ = try system("fstat", path) { fstat(fd, &status) }
            size = Int(status.st_size)
            if size == 0 {
                // An empty file (touched by hand) holds nothing to lose: start it properly.
                close(fd)
                fd = try Self.create(path: path, directory: directory, baseSequence: 1)
                createdSyncs = 2
                size = JournalFormat.headerSize
            }
        } catch {
            close(fd)
            throw error
        }

        var image = ByteBuffer(capacity: size)
        let replay: Replay
        do throws(JournalError) {
            try Self.read(fd, path: path, count: size, into: &image)
            let baseSequence: UInt64
            do {
                baseSequence = try JournalFormat.decodeHeader(image.bytes)
            } catch {
                switch error {
                case .short, .badChecksum:
                    throw JournalError(call: "open", errno: 0, path: path, reason: .damagedHeader)
                case .notAJournal:
                    throw JournalError(call: "open", errno: 0, path: path, reason: .notAJournal)
                case .unsupportedVersion(let version):
                    throw JournalError(call: "open", errno: 0, path: path, reason: .unsupportedVersion(version))
                }
            }
            replay = Self.replay(image.bytes, baseSequence: baseSequence)
        } catch {
            close(fd)
            throw error
        }

        descriptor = fd
        leases = replay.leases
        liveBytes = replay.liveBytes
        nextSequence = replay.nextSequence
        durableSequence = replay.nextSequence - 1
        fileSize = replay.validEnd
        syncCount = createdSyncs
        replayReport = ReplayReport(recordsReplayed: replay.recordsReplayed)

        if let damage = replay.corruption {
            // Keep the damaged file for inspection (a second name for the old inode), then replace
            // the journal with the records before the damage.
            let preserved = try preserve(tag: damage.offset)
            replayReport.corruption = ReplayReport.Corruption(
                offset: damage.offset, recordsDiscarded: damage.recordsAfter,
                bytesDiscarded: size - damage.offset, preservedAt: preserved)
            try compact()
        } else if replay.validEnd < size {
            replayReport.tornTailBytes = size - replay.validEnd
            _ = try system("ftruncate", path) { ftruncate(descriptor, off_t(replay.validEnd)) }
            _ = try system("fdatasync", path) { fdatasync(descriptor) }
            syncCount += 1
        }
    }

    deinit { close(descriptor) }

    /// The leases a journal holds, read without changing the file: no torn-tail truncation, no
    /// rewrite after damage (a reader must never cut what a running writer is appending). For
    /// tools that inspect a live rack's state directory.
    public static func readLeases(directory: String) throws(JournalError) -> [UInt32: LeaseRecord] {
        let path = directory + "/" + fileName
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError(call: "open", errno: errno, path: path) }
        defer { close(fd) }
        var status = stat()
        _ = try system("fstat", path) { fstat(fd, &status) }
        let size = Int(status.st_size)
        guard size > 0 else { return [:] }
        var image = ByteBuffer(capacity: size)
        try read(fd, path: path, count: size, into: &image)
        let baseSequence: UInt64
        do {
            baseSequence = try JournalFormat.decodeHeader(image.bytes)
        } catch {
            throw JournalError(call: "open", errno: 0, path: path, reason: .damagedHeader)
        }
        return replay(image.bytes, baseSequence: baseSequence).leases
    }

    /// Encodes `record` into the pending batch, with the next sequence, and returns that sequence.
    /// No system call; no allocation once the batch buffer and `leases` have grown to size.
    /// The record is not durable until `commit()` returns.
    @discardableResult
    public func append(_ record: LeaseRecord) -> UInt64 {
        precondition(record.mac >> 48 == 0, "a MAC address has 48 bits")
        precondition(record.clientID.count <= 255 && record.hostname.count <= 255,
                     "client ID and host name are at most 255 bytes")
        var stored = record
        stored.sequence = nextSequence
        nextSequence += 1
        JournalFormat.encode(stored, into: &pending)
        pendingCount += 1
        liveBytes += JournalFormat.frameSize(stored)
        if let replaced = leases.updateValue(stored, forKey: stored.address) {
            liveBytes -= JournalFormat.frameSize(replaced)
        }
        return stored.sequence
    }

    /// Makes every appended record durable: one `pwrite` (more only if the kernel writes short)
    /// and one `fdatasync`. Nothing pending: returns at once, no system call.
    public func commit() throws(JournalError) {
        guard pendingCount > 0 else { return }
        if let failure { throw failure }
        let batch = pending.bytes
        var written = 0
        do throws(JournalError) {
            while written < batch.count {
                let n = try system("pwrite", path) {
                    pwrite(descriptor, batch.baseAddress! + written, batch.count - written, off_t(fileSize + written))
                }
                writeCount += 1
                guard n > 0 else { throw JournalError(call: "pwrite", errno: EIO, path: path) }
                written += n
            }
            _ = try system("fdatasync", path) { fdatasync(descriptor) }
            syncCount += 1
        } catch {
            failure = error
            throw error
        }
        fileSize += written
        pending.removeAll()
        pendingCount = 0
        durableSequence = nextSequence - 1
    }

    /// Rewrites the journal as the live set alone: a new file, `fdatasync`ed, renamed over the
    /// journal, the directory `fsync`ed; appends continue in the new file. Pending records are
    /// included (a compaction is also a commit). A crash at any point leaves either the old
    /// journal or the new one, both whole.
    ///
    /// - Parameter keepingInactive: false drops released and expired entries from the file and
    ///   from `leases`; bound and declined ones are always kept.
    public func compact(keepingInactive: Bool = true) throws(JournalError) {
        var kept = Array(leases.values)
        if !keepingInactive { kept.removeAll { $0.state == .released || $0.state == .expired } }
        kept.sort { $0.sequence < $1.sequence }
        var bytes = JournalFormat.headerSize
        for record in kept { bytes += JournalFormat.frameSize(record) }
        var image = ByteBuffer(capacity: bytes)
        JournalFormat.encodeHeader(baseSequence: nextSequence, into: &image)
        for record in kept { JournalFormat.encode(record, into: &image) }

        let installed = try Self.install(image.bytes, path: path, directory: directory)
        writeCount += 1
        syncCount += installed.directorySync == nil ? 2 : 1
        close(descriptor)
        descriptor = installed.descriptor
        fileSize = image.count
        pending.removeAll()
        pendingCount = 0
        if !keepingInactive {
            leases = Dictionary(uniqueKeysWithValues: kept.map { ($0.address, $0) })
            liveBytes = bytes - JournalFormat.headerSize
        }
        compactionCount += 1
        if let error = installed.directorySync {
            // The rename may not survive a crash; the old journal it would leave is whole but
            // lacks what was pending. Refuse further commits until a compaction succeeds.
            failure = error
            throw error
        }
        failure = nil
        durableSequence = nextSequence - 1
    }

    // MARK: Replay

    struct Replay {
        var leases: [UInt32: LeaseRecord] = [:]
        var liveBytes = 0
        var recordsReplayed = 0
        /// End of the last valid record before any damage: where the file is cut.
        var validEnd = JournalFormat.headerSize
        var nextSequence: UInt64
        /// Damage followed by valid records: (offset of the damage, valid records after it).
        var corruption: (offset: Int, recordsAfter: Int)?
    }

    /// Applies the file's records in order and stops at the first bad frame. Whether that frame
    /// is a torn tail or damage depends on what follows: any valid frame after it means the file
    /// went on being written, so the bad bytes are damage. Sequences of the records past the
    /// damage still raise `nextSequence`, as they may already have been reported to the region.
    static func replay(_ file: UnsafeRawBufferPointer, baseSequence: UInt64) -> Replay {
        var replay = Replay(nextSequence: max(baseSequence, 1))
        var offset = JournalFormat.headerSize
        while offset < file.count {
            guard case .record(let record, let next) = JournalFormat.frame(in: file, at: offset) else {
                var position = offset
                var after = 0
                while let found = firstValidFrame(in: file, after: position) {
                    // Count the valid run from there, resynchronising past further damage.
                    position = found
                    while position < file.count, case .record(let record, let next) = JournalFormat.frame(in: file, at: position) {
                        after += 1
                        replay.nextSequence = max(replay.nextSequence, record.sequence &+ 1)
                        position = next
                    }
                }
                if after > 0 { replay.corruption = (offset, after) }
                break
            }
            replay.recordsReplayed += 1
            replay.nextSequence = max(replay.nextSequence, record.sequence &+ 1)
            replay.liveBytes += JournalFormat.frameSize(record)
            if let replaced = replay.leases.updateValue(record, forKey: record.address) {
                replay.liveBytes -= JournalFormat.frameSize(replaced)
            }
            offset = next
            replay.validEnd = next
        }
        return replay
    }

    /// The first offset after `offset` where a whole, valid frame starts.
    static func firstValidFrame(in file: UnsafeRawBufferPointer, after offset: Int) -> Int? {
        let last = file.count - JournalFormat.frameHeaderSize - JournalFormat.fixedPayloadSize
        guard offset < last else { return nil }
        for candidate in offset + 1...last {
            let length = Int(UInt32(littleEndian: file.loadUnaligned(fromByteOffset: candidate, as: UInt32.self)))
            guard length >= JournalFormat.fixedPayloadSize, length <= JournalFormat.maximumPayloadSize,
                  candidate + JournalFormat.frameHeaderSize + length <= file.count else { continue }
            if case .record = JournalFormat.frame(in: file, at: candidate) { return candidate }
        }
        return nil
    }

    // MARK: Files

    static func temporaryPath(_ path: String) -> String { path + ".compact" }

    /// Hard-links the current journal to `leases.journal.damaged-<tag>` (or `-<tag>.<n>` if
    /// taken) and returns that path.
    private func preserve(tag: Int) throws(JournalError) -> String {
        var attempt = 0
        while true {
            let name = path + ".damaged-\(tag)" + (attempt == 0 ? "" : ".\(attempt)")
            if link(path, name) == 0 { return name }
            guard errno == EEXIST else { throw JournalError(call: "link", errno: errno, path: name) }
            attempt += 1
        }
    }

    /// A new, empty journal, created whole by rename so a crash never leaves half a header.
    private static func create(path: String, directory: String, baseSequence: UInt64) throws(JournalError) -> Int32 {
        var image = ByteBuffer(capacity: JournalFormat.headerSize)
        JournalFormat.encodeHeader(baseSequence: baseSequence, into: &image)
        let installed = try install(image.bytes, path: path, directory: directory)
        if let error = installed.directorySync {
            close(installed.descriptor)
            throw error
        }
        return installed.descriptor
    }

    /// Writes `image` to the temporary file, syncs it, renames it over `path` and syncs the
    /// directory. Returns the new file's descriptor; a failed directory sync comes back beside it
    /// (the rename has happened, so the descriptor is the journal now).
    private static func install(_ image: UnsafeRawBufferPointer, path: String, directory: String)
        throws(JournalError) -> (descriptor: Int32, directorySync: JournalError?)
    {
        let temporary = temporaryPath(path)
        let fd = try system("open", temporary) { open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        do throws(JournalError) {
            var written = 0
            while written < image.count {
                let n = try system("pwrite", temporary) {
                    pwrite(fd, image.baseAddress! + written, image.count - written, off_t(written))
                }
                guard n > 0 else { throw JournalError(call: "pwrite", errno: EIO, path: temporary) }
                written += n
            }
            _ = try system("fdatasync", temporary) { fdatasync(fd) }
            _ = try system("rename", path) { rename(temporary, path) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        do {
            try syncDirectory(directory)
            return (fd, nil)
        } catch {
            return (fd, error)
        }
    }

    private static func syncDirectory(_ directory: String) throws(JournalError) {
        let fd = try system("open", directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        _ = try system("fsync", directory) { fsync(fd) }
    }

    private static func makeDirectories(_ directory: String) throws(JournalError) {
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw JournalError(call: "mkdir", errno: errno, path: prefix)
            }
            prefix += "/"
        }
    }

    private static func read(_ fd: Int32, path: String, count: Int, into buffer: inout ByteBuffer) throws(JournalError) {
        let start = buffer.reserve(count)
        var done = 0
        while done < count {
            let n = try system("pread", path) { pread(fd, start + done, count - done, off_t(done)) }
            if n == 0 { break }   // shrank under us: replay what is there
            done += n
        }
        buffer.commit(done)
    }
}
