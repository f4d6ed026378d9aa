import Glibc
import Testing
@testable import LeaseStore

@Suite struct LeaseJournalTests {
    /// Bytes of sample record `n` in the file.
    static func frameSize(_ n: Int) -> Int { JournalFormat.frameSize(sampleRecord(n)) }

    static func appendAll(_ journal: LeaseJournal, _ range: Range<Int>, batch: Int = 100) throws {
        for n in range {
            journal.append(sampleRecord(n))
            if (n - range.lowerBound + 1) % batch == 0 { try journal.commit() }
        }
        try journal.commit()
    }

    // MARK: Round trips

    @Test func aNewDirectoryGetsAJournalWithJustAHeader() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let nested = temporary.path + "/state/rack/"
        let journal = try LeaseJournal(directory: nested)
        #expect(journal.path == temporary.path + "/state/rack/leases.journal")
        #expect(journal.leases.isEmpty)
        #expect(journal.nextSequence == 1)
        #expect(journal.replayReport.isClean)
        #expect(Files.size(journal.path) == JournalFormat.headerSize)
        #expect(Array(Files.read(journal.path)[0..<8]) == Array("RPLEASES".utf8))
    }

    @Test func appendCommitReopenGivesTheSameLeases() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        var expected: [UInt32: LeaseRecord] = [:]
        do {
            let journal = try LeaseJournal(directory: temporary.path)
            for n in 0..<50 {
                let state = LeaseState.allCases[n % 4]
                let sequence = journal.append(sampleRecord(n, state: state))
                #expect(sequence == UInt64(n + 1))
            }
            // Later records for an address replace earlier ones.
            var renewed = sampleRecord(7)
            renewed.expiresAt += 600
            renewed.hostname = Array(repeating: 0x61, count: 255)
            renewed.clientID = Array(repeating: 0xFE, count: 255)
            #expect(journal.append(renewed) == 51)
            #expect(journal.pendingCount == 51)
            #expect(journal.durableSequence == 0)
            try journal.commit()
            #expect(journal.pendingCount == 0)
            #expect(journal.durableSequence == 51)
            expected = journal.leases
            #expect(expected.count == 50)
            #expect(expected[0xC612_0007]?.hostname.count == 255)
            #expect(expected[0xC612_0007]?.sequence == 51)
        }
        let reopened = try LeaseJournal(directory: temporary.path)
        #expect(reopened.leases == expected)
        #expect(reopened.replayReport == ReplayReport(recordsReplayed: 51))
        #expect(reopened.nextSequence == 52)
        #expect(reopened.durableSequence == 51)
    }

    @Test func aHundredThousandRecordsReplay() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let count = 100_000
        var expected: [UInt32: LeaseRecord] = [:]
        do {
            let journal = try LeaseJournal(directory: temporary.path)
            try Self.appendAll(journal, 0..<count, batch: 1000)
            expected = journal.leases
            #expect(journal.syncCount == 2 + count / 1000)   // creation (file + directory), then one per batch
            #expect(journal.writeCount == count / 1000)
        }
        let reopened = try LeaseJournal(directory: temporary.path)
        #expect(reopened.leases.count == count)
        #expect(reopened.leases == expected)
        #expect(reopened.replayReport == ReplayReport(recordsReplayed: count))
        #expect(reopened.leases[0xC612_0000 + 99_999]?.sequence == 100_000)
    }

    @Test func theSequenceContinuesAfterReopen() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        do {
            let journal = try LeaseJournal(directory: temporary.path)
            try Self.appendAll(journal, 0..<10)
            // Appended but never committed: lost, and its sequence may be handed out again
            // (it was never durable, so never reported).
            journal.append(sampleRecord(10))
        }
        let reopened = try LeaseJournal(directory: temporary.path)
        #expect(reopened.leases.count == 10)
        #expect(reopened.append(sampleRecord(11)) == 11)
        try reopened.commit()
        let again = try LeaseJournal(directory: temporary.path)
        #expect(again.nextSequence == 12)
        #expect(again.leases[0xC612_000B]?.sequence == 11)
    }

    @Test func commitWithNothingPendingMakesNoSystemCall() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let journal = try LeaseJournal(directory: temporary.path)
        let (syncs, writes) = (journal.syncCount, journal.writeCount)
        try journal.commit()
        #expect(journal.syncCount == syncs && journal.writeCount == writes)

        for n in 0..<100 { journal.append(sampleRecord(n)) }
        try journal.commit()
        #expect(journal.syncCount == syncs + 1, "group commit: one fdatasync for the batch")
        #expect(journal.writeCount == writes + 1, "group commit: one write for the batch")
        try journal.commit()
        try journal.commit()
        #expect(journal.syncCount == syncs + 1 && journal.writeCount == writes + 1)
    }

    // MARK: Torn tails

    @Test func aTailCutMidRecordIsTruncatedAndEarlierRecordsSurvive() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        do { try Self.appendAll(try LeaseJournal(directory: temporary.path), 0..<10) }
        let whole = Files.size(temporary.journal)
        // Every cut inside the last record, from its first byte to its last.
        for cut in 1..<Self.frameSize(9) {
            Files.truncate(temporary.journal, to: whole - cut)
            let journal = try LeaseJournal(directory: temporary.path)
            #expect(journal.leases.count == 9, "cut \(cut)")
            #expect(journal.replayReport.tornTailBytes == Self.frameSize(9) - cut)
            #expect(journal.replayReport.corruption == nil)
            #expect(Files.size(temporary.journal) == whole - Self.frameSize(9))
            // Appends continue cleanly after the cut.
            journal.append(sampleRecord(9))
            try journal.commit()
            #expect(Files.size(temporary.journal) == whole)
        }
        let final = try LeaseJournal(directory: temporary.path)
        #expect(final.replayReport == ReplayReport(recordsReplayed: 10))
        #expect(final.leases.count == 10)
    }

    static let garbage: [(label: String, bytes: [UInt8])] = [
        ("random garbage", (0..<1000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }),
        ("zeros, as from preallocated blocks", Array(repeating: 0, count: 4096)),
        ("a frame header alone", [45, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF]),
        ("three bytes", [1, 2, 3]),
    ]

    @Test(arguments: 0..<4)
    func garbageAfterTheLastRecordIsCut(_ index: Int) throws {
        let garbage = Self.garbage[index].bytes
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        do { try Self.appendAll(try LeaseJournal(directory: temporary.path), 0..<10) }
        let clean = Files.read(temporary.journal)
        Files.write(temporary.journal, clean + garbage)

        let journal = try LeaseJournal(directory: temporary.path)
        #expect(journal.leases.count == 10)
        #expect(journal.replayReport.tornTailBytes == garbage.count)
        #expect(journal.replayReport.corruption == nil)
        #expect(Files.read(temporary.journal) == clean)
        #expect(journal.append(sampleRecord(10)) == 11)
    }

    // MARK: Damage in the middle

    @Test func aFlippedBitInTheMiddleIsDetectedAndReported() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        do { try Self.appendAll(try LeaseJournal(directory: temporary.path), 0..<100) }
        var bytes = Files.read(temporary.journal)
        let damaged = JournalFormat.headerSize + (0..<50).reduce(0) { $0 + Self.frameSize($1) }
        let whole = bytes.count
        bytes[damaged + 8 + 20] ^= 0x10   // a bit of record 50's MAC
        Files.write(temporary.journal, bytes)

        let journal = try LeaseJournal(directory: temporary.path)
        let report = journal.replayReport
        #expect(report.recordsReplayed == 50)
        #expect(report.tornTailBytes == 0)
        let corruption = try #require(report.corruption)
        #expect(corruption.offset == damaged)
        #expect(corruption.recordsDiscarded == 49)   // records 51...99: intact, but after the damage
        #expect(corruption.bytesDiscarded == whole - damaged)
        #expect(corruption.preservedAt == temporary.journal + ".damaged-\(damaged)")
        #expect(Files.read(corruption.preservedAt) == bytes, "the damaged file is kept as it was")
        #expect(journal.leases.count == 50)
        #expect(journal.leases[0xC612_0031] != nil && journal.leases[0xC612_0032] == nil)
        // Sequences past the damage may have been reported to the region: never reused.
        #expect(journal.nextSequence == 101)

        // The journal was rewritten from what survived: reopening is clean.
        journal.append(sampleRecord(200))
        try journal.commit()
        let reopened = try LeaseJournal(directory: temporary.path)
        #expect(reopened.replayReport.isClean)
        #expect(reopened.leases.count == 51)
        #expect(reopened.leases[0xC612_0000 + 200]?.sequence == 101)
        #expect(temporary.entries() == ["leases.journal", "leases.journal.damaged-\(damaged)"])
    }

    @Test func aDamagedLengthFieldIsCaughtToo() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        do { try Self.appendAll(try LeaseJournal(directory: temporary.path), 0..<20) }
        var bytes = Files.read(temporary.journal)
        let damaged = JournalFormat.headerSize + (0..<5).reduce(0) { $0 + Self.frameSize($1) }
        bytes[damaged] ^= 0x01   // length ± 1: still in range, so only the CRC can tell
        Files.write(temporary.journal, bytes)
        let journal = try LeaseJournal(directory: temporary.path)
        #expect(journal.leases.count == 5)
        #expect(journal.replayReport.corruption?.offset == damaged)
        #expect(journal.replayReport.corruption?.recordsDiscarded == 14)
    }

    @Test func aDamagedHeaderIsRefusedNotRepaired() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        do { try Self.appendAll(try LeaseJournal(directory: temporary.path), 0..<3) }
        let good = Files.read(temporary.journal)

        var flipped = good
        flipped[17] ^= 0x80   // base sequence
        Files.write(temporary.journal, flipped)
        #expect(throws: JournalError(call: "open", errno: 0, path: temporary.journal, reason: .damagedHeader)) {
            _ = try LeaseJournal(directory: temporary.path)
        }

        var foreign = good
        foreign[0] = UInt8(ascii: "X")
        Files.write(temporary.journal, foreign)
        #expect(throws: JournalError(call: "open", errno: 0, path: temporary.journal, reason: .notAJournal)) {
            _ = try LeaseJournal(directory: temporary.path)
        }
        #expect(Files.read(temporary.journal) == foreign, "a file that is not ours is left alone")

        var newer = good
        newer[8] = 2
        let crc = newer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<24])) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { newer[24 + i] = $0[i] } }
        Files.write(temporary.journal, newer)
        #expect(throws: JournalError(call: "open", errno: 0, path: temporary.journal, reason: .unsupportedVersion(2))) {
            _ = try LeaseJournal(directory: temporary.path)
        }

        Files.write(temporary.journal, Array(good[0..<20]))
        #expect(throws: JournalError(call: "open", errno: 0, path: temporary.journal, reason: .damagedHeader)) {
            _ = try LeaseJournal(directory: temporary.path)
        }
    }

    @Test func anUnusableDirectoryIsAnErrorNamingCallErrnoAndPath() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        Files.write(temporary.path + "/file", [1])
        do throws(JournalError) {
            _ = try LeaseJournal(directory: temporary.path + "/file/state")
            Issue.record("opened a journal under a regular file")
        } catch {
            #expect(error.errno == ENOTDIR)
            #expect(error.path == temporary.path + "/file/state")
            #expect(error.call == "mkdir")
            #expect(error.description.contains("Not a directory"))
        }
    }

    // MARK: Compaction

    @Test func compactionKeepsExactlyTheLiveSetAndAppendingContinues() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        var options = LeaseJournal.Options()
        options.compactionMinimumBytes = 0
        let journal = try LeaseJournal(directory: temporary.path, options: options)
        // 100 addresses renewed ten times over: the file is ~10× the live set.
        for round in 0..<10 {
            for n in 0..<100 {
                var record = sampleRecord(n, state: n % 10 == 0 && round == 9 ? .released : .bound)
                record.expiresAt += UInt64(round * 600)
                journal.append(record)
            }
            try journal.commit()
        }
        #expect(journal.needsCompaction)
        let live = journal.leases
        let before = Files.size(temporary.journal)
        let syncs = journal.syncCount

        // Pending records go into the compacted file as well.
        journal.append(sampleRecord(500))
        let expected = journal.leases
        try journal.compact()
        #expect(journal.syncCount == syncs + 2, "the new file, then the directory")
        #expect(journal.pendingCount == 0)
        #expect(journal.leases == expected)
        #expect(journal.leases.count == live.count + 1)
        #expect(!journal.needsCompaction)
        let after = Files.size(temporary.journal)
        #expect(after == JournalFormat.headerSize + journal.liveBytes)
        #expect(after < before / 9)
        #expect(temporary.entries() == ["leases.journal"])

        // Appends go to the new file.
        #expect(journal.append(sampleRecord(501)) == 1002)
        try journal.commit()
        let reopened = try LeaseJournal(directory: temporary.path)
        #expect(reopened.replayReport == ReplayReport(recordsReplayed: 102))
        #expect(reopened.leases == journal.leases)
        #expect(reopened.nextSequence == 1003)
    }

    @Test func compactionCanDropInactiveLeasesAndTheSequenceSurvivesAnEmptyFile() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        do {
            let journal = try LeaseJournal(directory: temporary.path)
            for n in 0..<40 { journal.append(sampleRecord(n, state: LeaseState.allCases[n % 4])) }
            try journal.compact(keepingInactive: false)
            #expect(journal.leases.count == 20)
            #expect(journal.leases.values.allSatisfy { $0.state == .bound || $0.state == .declined })
            #expect(Files.size(temporary.journal) == JournalFormat.headerSize + journal.liveBytes)
            for n in 0..<40 where n % 4 == 0 || n % 4 == 2 {
                journal.append(sampleRecord(n, state: .expired))
            }
            try journal.compact(keepingInactive: false)
            #expect(journal.leases.isEmpty)
            #expect(Files.size(temporary.journal) == JournalFormat.headerSize)
        }
        // Nothing left in the file, yet sequences 1...60 are never handed out again.
        let reopened = try LeaseJournal(directory: temporary.path)
        #expect(reopened.leases.isEmpty)
        #expect(reopened.append(sampleRecord(0)) == 61)
    }

    @Test func needsCompactionRespectsTheMinimumSize() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let journal = try LeaseJournal(directory: temporary.path)   // 1 MiB minimum
        for _ in 0..<1000 { journal.append(sampleRecord(1)) }
        try journal.commit()
        #expect(!journal.needsCompaction, "~50 KB is not worth rewriting")
        for _ in 0..<25_000 { journal.append(sampleRecord(1)) }
        #expect(journal.needsCompaction, "pending bytes count too")
    }

    @Test func aCompactionInterruptedBeforeItsRenameIsIgnored() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        do { try Self.appendAll(try LeaseJournal(directory: temporary.path), 0..<5) }
        Files.write(temporary.journal + ".compact", [0x52, 0x50])   // half-written new file
        let journal = try LeaseJournal(directory: temporary.path)
        #expect(journal.leases.count == 5)
        #expect(temporary.entries() == ["leases.journal"])
    }
}
