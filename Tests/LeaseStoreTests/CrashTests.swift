import Glibc
import Testing
@testable import LeaseStore

/// A writer process that dies without closing the journal. The writer is a fork() of the test
/// process: the runner's other threads do not exist in the child, so before forking the parent
/// runs the same code path once (every generic the child needs is instantiated and no runtime
/// lock is taken for the first time in the child), the child touches nothing but the journal and
/// raw system calls, and leaves with _exit. Should the child still hang, the parent kills it after
/// a deadline and the test fails saying so rather than hanging the run.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct CrashTests {
    /// Forks; the child runs `body` and `_exit`s with its result; the parent gets the pid.
    static func spawn(_ body: () -> Int32) -> pid_t {
        let pid = fork()
        precondition(pid >= 0, "fork failed: errno \(errno)")
        if pid == 0 { _exit(body()) }
        return pid
    }

    /// Waits up to `seconds` for the child; kills it if it is still running. Returns the wait status.
    static func reap(_ pid: pid_t, seconds: Int) -> (status: Int32, timedOut: Bool) {
        var status: Int32 = 0
        for _ in 0..<seconds * 100 {
            if waitpid(pid, &status, WNOHANG) == pid { return (status, false) }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        return (status, true)
    }

    static func warmUp(_ directory: String) throws {
        let journal = try LeaseJournal(directory: directory)
        journal.append(sampleRecord(1_000_000))
        try journal.commit()
    }

    @Test("a child appends and commits K records, then _exits without closing: all K are there")
    func committedRecordsSurviveAnExitWithoutClose() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        try Self.warmUp(temporary.path)
        let records = 5_000

        let pid = Self.spawn {
            guard let journal = try? LeaseJournal(directory: temporary.path) else { return 2 }
            for n in 0..<records {
                journal.append(sampleRecord(n))
                if n % 50 == 49 { do { try journal.commit() } catch { return 3 } }
            }
            return 0   // _exit: no deinit, no close, no flush
        }
        let (status, timedOut) = Self.reap(pid, seconds: 30)
        #expect(!timedOut, "the forked writer hung")
        #expect(status & 0x7F == 0 && (status >> 8) & 0xFF == 0, "child wait status \(status)")

        let journal = try LeaseJournal(directory: temporary.path)
        #expect(journal.replayReport.isClean)
        #expect(journal.leases.count == records + 1)
        for n in 0..<records { #expect(journal.leases[0xC612_0000 + UInt32(n)] == { var r = sampleRecord(n); r.sequence = UInt64(n + 2); return r }()) }
    }

    @Test("SIGKILL mid-stream: every batch the writer acknowledged is in the journal")
    func killedWriterLosesNoAcknowledgedRecord() throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        try Self.warmUp(temporary.path)
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])

        // The child commits batches of 10 forever and, after each commit returns (the moment the
        // DHCP server would let the batch's ACKs leave), writes the durable sequence to the pipe.
        let pid = Self.spawn {
            close(readEnd)
            guard let journal = try? LeaseJournal(directory: temporary.path) else { return 2 }
            var n = 0
            while true {
                for _ in 0..<10 {
                    journal.append(sampleRecord(n))
                    n += 1
                }
                do { try journal.commit() } catch { return 3 }
                var acknowledged = journal.durableSequence
                guard write(writeEnd, &acknowledged, 8) == 8 else { return 4 }
            }
        }
        close(writeEnd)

        // Let it acknowledge at least 300 batches, then kill it between any two instructions.
        var highest: UInt64 = 0
        var batches = 0
        while batches < 300 {
            var value: UInt64 = 0
            let n = read(readEnd, &value, 8)
            if n != 8 { break }
            highest = max(highest, value)
            batches += 1
        }
        kill(pid, SIGKILL)
        // Acknowledgements already in the pipe count too.
        while true {
            var value: UInt64 = 0
            if read(readEnd, &value, 8) != 8 { break }
            highest = max(highest, value)
        }
        close(readEnd)
        let (status, _) = Self.reap(pid, seconds: 10)
        #expect(batches == 300, "the writer stopped early: status \(status)")
        #expect(status & 0x7F == SIGKILL)

        let journal = try LeaseJournal(directory: temporary.path)
        // Sequence s (≥ 2) is sample record s - 2; every acknowledged one must be there.
        let acknowledged = Int(highest) - 1
        #expect(acknowledged >= 3000)
        #expect(journal.leases.count >= acknowledged + 1)
        var missing = 0
        for n in 0..<acknowledged where journal.leases[0xC612_0000 + UInt32(n)]?.sequence != UInt64(n + 2) { missing += 1 }
        #expect(missing == 0)
        #expect(journal.replayReport.corruption == nil)
        // Whatever was in flight is at most one batch, cut as a torn tail or whole.
        #expect(journal.leases.count <= acknowledged + 1 + 10)
    }
}
