import Testing
@testable import Responders
import Wire

// MARK: Plain-value helpers

/// An RRQ (or WRQ) as raw bytes, so tests can send values the codec's writer refuses.
func tftpRequest(_ name: String = "pxelinux.0", mode: String = "octet", _ options: [(String, String)] = [],
                 opcode: TFTPOpcode = .readRequest) -> [UInt8] {
    var bytes: [UInt8] = [0, UInt8(opcode.rawValue)]
    bytes += Array(name.utf8) + [0] + Array(mode.utf8) + [0]
    for (n, v) in options { bytes += Array(n.utf8) + [0] + Array(v.utf8) + [0] }
    return bytes
}

func tftpTransfer(size: UInt64, _ options: [(String, String)] = [], mode: String = "octet", opcode: TFTPOpcode = .readRequest,
                  limits: TFTPTransferLimits = .ipv4(pathMTU: 1500)) throws -> TFTPTransfer {
    let bytes = tftpRequest(mode: mode, options, opcode: opcode)
    return try bytes.withUnsafeBytes { raw in
        switch try TFTPPacket.parse(raw) {
        case .readRequest(let r), .writeRequest(let r): TFTPTransfer(request: r, size: size, limits: limits)
        default: fatalError("not a request")
        }
    }
}

func tftpAck(_ block: UInt16) -> [UInt8] { [0, 4, UInt8(block >> 8), UInt8(block & 0xFF)] }
func tftpClientError(_ code: UInt16, _ message: String = "no") -> [UInt8] {
    [0, 5, UInt8(code >> 8), UInt8(code & 0xFF)] + Array(message.utf8) + [0]
}

extension TFTPTransfer {
    mutating func receive(_ bytes: [UInt8], now: UInt64 = 0) -> TFTPTransferStep {
        bytes.withUnsafeBytes { received($0, now: now) }
    }
}

/// Runs a well-behaved client to the end: ACK 0 for an OACK, then an ACK for the last block of
/// each window. Checks every DATA block is the next one, at the right offset and length, with
/// the right wire number. Returns the blocks per window and the bytes delivered.
func runClient(_ transfer: inout TFTPTransfer) -> (windows: [Int], delivered: UInt64, blocks: UInt64) {
    var step = transfer.start(now: 0)
    var windows: [Int] = []
    var delivered: UInt64 = 0
    var expected: UInt64 = 1
    var now: UInt64 = 0
    if step.control == .sendOptionAcknowledgement(transfer.acceptedOptions) { step = transfer.receive(tftpAck(0), now: now) }
    while true {
        var last: UInt16 = 0
        var count = 0
        var finalSeen = false
        for action in step {
            guard case .sendData(let block, let offset, let length) = action else {
                Issue.record("unexpected \(action)")
                return (windows, delivered, expected - 1)
            }
            #expect(block == UInt16(truncatingIfNeeded: expected))
            #expect(offset == delivered)
            #expect(length <= transfer.blockSize)
            finalSeen = length < transfer.blockSize
            delivered += UInt64(length)
            last = block
            count += 1
            expected += 1
        }
        windows.append(count)
        now += 1
        step = transfer.receive(tftpAck(last), now: now)
        if finalSeen {
            #expect(step.actions == [.finished])
            #expect(step.deadline == nil)
            return (windows, delivered, expected - 1)
        }
        if step.isEmpty {
            Issue.record("stalled at block \(expected)")
            return (windows, delivered, expected - 1)
        }
    }
}

// MARK: Option negotiation

@Suite struct TFTPTransferNegotiationTests {
    @Test func noOptionsStartsWithDataBlockOne() throws {
        var t = try tftpTransfer(size: 1000)
        let step = t.start(now: 100)
        #expect(step.actions == [.sendData(block: 1, offset: 0, length: 512)])
        #expect(step.deadline == 1100)
        #expect(t.phase == .sending)
        #expect(t.blockSize == 512 && t.windowSize == 1)
    }

    @Test(arguments: [
        // (requested, granted) at MTU 1500: at most 1472 − 4 = 1468.
        ("512", UInt16(512)), ("8", 8), ("1468", 1468), ("1469", 1468), ("65464", 1468), ("70000", 1468),
        ("99999999999999999999", nil), ("7", nil), ("0", nil), ("", nil), ("1k", nil),
    ] as [(String, UInt16?)])
    func blockSize(requested: String, granted: UInt16?) throws {
        var t = try tftpTransfer(size: 10_000, [("blksize", requested)])
        #expect(t.acceptedOptions == TFTPOptionValues(blockSize: granted))
        let step = t.start(now: 0)
        if let granted {
            #expect(step.actions == [.sendOptionAcknowledgement(TFTPOptionValues(blockSize: granted))])
            #expect(t.blockSize == Int(granted))
        } else {
            // Not acknowledged: "as if they were never requested" (RFC 2347).
            #expect(step.actions == [.sendData(block: 1, offset: 0, length: 512)])
        }
    }

    @Test func blockSizeCappedByRFCOnLargePaths() throws {
        let t = try tftpTransfer(size: 1, [("blksize", "65535")], limits: TFTPTransferLimits(maximumPayload: 65507))
        #expect(t.blockSize == 65464)
        let small = try tftpTransfer(size: 1, [("blksize", "1468")], limits: .ipv4(pathMTU: 576))
        #expect(small.blockSize == 576 - 32)
    }

    @Test func transferSizeAnswersTheRealSize() throws {
        let t = try tftpTransfer(size: 33_554_432, [("tsize", "0")])
        #expect(t.acceptedOptions == TFTPOptionValues(transferSize: 33_554_432))
        // A client's non-zero guess is answered with the truth too.
        #expect(try tftpTransfer(size: 7, [("tsize", "12")]).acceptedOptions.transferSize == 7)
        #expect(try tftpTransfer(size: 7, [("tsize", "x")]).acceptedOptions.isEmpty)
        // netascii: the octets on the wire are not the file's.
        #expect(try tftpTransfer(size: 7, [("tsize", "0")], mode: "netascii").acceptedOptions.isEmpty)
    }

    @Test(arguments: [("1", UInt8(1)), ("5", 5), ("255", 255), ("0", nil), ("256", nil), ("-1", nil)] as [(String, UInt8?)])
    func timeout(requested: String, granted: UInt8?) throws {
        let t = try tftpTransfer(size: 1, [("timeout", requested)])
        #expect(t.acceptedOptions == TFTPOptionValues(timeout: granted))
        #expect(t.baseTimeout == (granted.map { UInt64($0) * 1000 } ?? 1000))
    }

    @Test(arguments: [("1", UInt16(1)), ("16", 16), ("64", 64), ("65", 64), ("65535", 64), ("0", nil), ("70000", 64)] as [(String, UInt16?)])
    func windowSize(requested: String, granted: UInt16?) throws {
        let t = try tftpTransfer(size: 1, [("windowsize", requested)])
        #expect(t.acceptedOptions == TFTPOptionValues(windowSize: granted))
        #expect(t.windowSize == Int(granted ?? 1))
    }

    @Test func windowSizeCapIsConfigurable() throws {
        let t = try tftpTransfer(size: 1, [("windowsize", "16")], limits: TFTPTransferLimits(maximumWindowSize: 8))
        #expect(t.windowSize == 8)
    }

    @Test func unknownOptionsIgnoredAndNamesCaseInsensitive() throws {
        var t = try tftpTransfer(size: 5000, [("multicast", ""), ("BlkSize", "1024"), ("rollover", "0"), ("TSIZE", "0")])
        #expect(t.acceptedOptions == TFTPOptionValues(blockSize: 1024, transferSize: 5000))
        #expect(t.start(now: 0).actions == [.sendOptionAcknowledgement(TFTPOptionValues(blockSize: 1024, transferSize: 5000))])
        var only = try tftpTransfer(size: 5000, [("multicast", ""), ("utimeout", "100000")])
        #expect(only.start(now: 0).actions == [.sendData(block: 1, offset: 0, length: 512)])
    }

    @Test func allOptionsInOneOptionAcknowledgement() throws {
        var t = try tftpTransfer(size: 100_000, [("blksize", "1468"), ("tsize", "0"), ("timeout", "3"), ("windowsize", "16")])
        let granted = TFTPOptionValues(blockSize: 1468, transferSize: 100_000, timeout: 3, windowSize: 16)
        let step = t.start(now: 10)
        #expect(step.actions == [.sendOptionAcknowledgement(granted)])
        #expect(step.deadline == 3010)
        #expect(t.phase == .awaitingOptionAcknowledgement)
        // ACK 0 accepts the OACK: the first window of 16.
        let first = t.receive(tftpAck(0), now: 20)
        #expect(first.actions.count == 16)
        #expect(first.actions.first == .sendData(block: 1, offset: 0, length: 1468))
        #expect(first.actions.last == .sendData(block: 16, offset: 15 * 1468, length: 1468))
        #expect(first.deadline == 3020)
    }

    @Test func writeRequestRefusedWithAccessViolation() throws {
        var t = try tftpTransfer(size: 0, [("blksize", "1468")], opcode: .writeRequest)
        #expect(t.acceptedOptions.isEmpty)
        let step = t.start(now: 0)
        #expect(step.actions == [.sendError(.accessViolation, message: "write requests refused"), .abort(.writeRequest)])
        #expect(step.deadline == nil)
        #expect(t.phase == .aborted(.writeRequest))
    }

    @Test func mailModeRefused() throws {
        var t = try tftpTransfer(size: 10, mode: "MAIL")
        #expect(t.start(now: 0).actions == [.sendError(.illegalOperation, message: "mail mode not supported"), .abort(.mailMode)])
    }

    @Test func netasciiIsServedFromTheConvertedImage() throws {
        let text = Array("a\nb\r\nc\r".utf8)
        let image = TFTPNetascii.encode(text)
        #expect(image == Array("a\r\nb\r\0\r\nc\r\0".utf8))
        #expect(text.withUnsafeBytes { TFTPNetascii.encodedCount($0) } == UInt64(image.count))
        var t = try tftpTransfer(size: UInt64(image.count), mode: "NetASCII")
        #expect(t.mode == .netascii)
        #expect(t.start(now: 0).actions == [.sendData(block: 1, offset: 0, length: image.count)])
    }
}

// MARK: Whole transfers

@Suite struct TFTPTransferRunTests {
    @Test(arguments: [
        // (blksize option, size, blocks)
        (nil, 0, 1), (nil, 1, 1), (nil, 511, 1), (nil, 512, 2), (nil, 513, 2), (nil, 512 * 3, 4), (nil, 1000, 2),
        (1468, 1467, 1), (1468, 1468, 2), (1468, 1469, 2), (1468, 1468 * 10, 11), (1468, 1468 * 10 + 1, 11),
        (1468, 33_554_432, 22_858),
    ] as [(Int?, UInt64, UInt64)])
    func lockStep(blockSize: Int?, size: UInt64, blocks: UInt64) throws {
        var t = try tftpTransfer(size: size, blockSize.map { [("blksize", String($0))] } ?? [])
        let run = runClient(&t)
        #expect(run.delivered == size)
        #expect(run.blocks == blocks)
        #expect(t.lastBlock == blocks)
        #expect(run.windows.allSatisfy { $0 == 1 })
        #expect(t.phase == .finished)
    }

    @Test func windowsOfSixteen() throws {
        var t = try tftpTransfer(size: 1468 * 40 + 100, [("blksize", "1468"), ("windowsize", "16")])
        let run = runClient(&t)
        #expect(run.windows == [16, 16, 9])
        #expect(run.delivered == 1468 * 40 + 100)
        #expect(t.phase == .finished)
    }

    @Test func windowsOfSixteenEndingOnAnEmptyBlock() throws {
        // 32 full blocks, then the empty block 33 alone in the third window.
        var t = try tftpTransfer(size: 1468 * 32, [("blksize", "1468"), ("windowsize", "16")])
        let run = runClient(&t)
        #expect(run.windows == [16, 16, 1])
        #expect(run.blocks == 33)
    }

    @Test func blockNumbersRollOverPast65535() throws {
        // 70,000 blocks of 8 bytes: block 65536 goes out as 0, 65537 as 1 (checked by runClient).
        var t = try tftpTransfer(size: 8 * 70_000 + 3, [("blksize", "8")])
        let run = runClient(&t)
        #expect(run.blocks == 70_001)
        #expect(run.delivered == 8 * 70_000 + 3)
        #expect(t.phase == .finished)
    }

    @Test func rolloverInsideAWindow() throws {
        var t = try tftpTransfer(size: 8 * 131_100, [("blksize", "8"), ("windowsize", "64")])
        let run = runClient(&t)
        #expect(run.blocks == 131_101)
        #expect(t.phase == .finished)
    }

    @Test func rolloverAcknowledgementsMapToTheRightBlock() throws {
        var t = try tftpTransfer(size: 8 * 70_000, [("blksize", "8"), ("windowsize", "16")])
        _ = t.start(now: 0)
        var step = t.receive(tftpAck(0))
        while t.sent < 65_530 { step = t.receive(tftpAck(UInt16(truncatingIfNeeded: t.sent))) }
        // The window straddling 65535 → 0.
        #expect(t.acknowledged == 65_520 && t.sent == 65_536)
        #expect(step.actions.last == .sendData(block: 0, offset: 65_535 * 8, length: 8))
        // A partial ACK of 65535, then the full ACK of "0" = 65536.
        step = t.receive(tftpAck(65_535))
        #expect(t.acknowledged == 65_535)
        #expect(step.actions.first == .sendData(block: 0, offset: 65_535 * 8, length: 8))
        step = t.receive(tftpAck(14))
        #expect(t.acknowledged == 65_536 + 14)
        // An old ACK from before the wrap is a duplicate, not an error.
        step = t.receive(tftpAck(65_530))
        #expect(step.ignored == .duplicateAcknowledgement && step.isEmpty)
        #expect(t.phase == .sending)
    }
}

// MARK: Acknowledgements, retransmission, errors

@Suite struct TFTPTransferRecoveryTests {
    @Test func duplicateAcknowledgementDoesNotResend() throws {
        var t = try tftpTransfer(size: 5000)
        _ = t.start(now: 0)
        #expect(t.receive(tftpAck(1), now: 10).actions == [.sendData(block: 2, offset: 512, length: 512)])
        // The Sorcerer's Apprentice: a delayed second ACK 1 must not send DATA 2 again.
        let dup = t.receive(tftpAck(1), now: 20)
        #expect(dup.isEmpty && dup.ignored == .duplicateAcknowledgement)
        #expect(dup.deadline == 1010)
        #expect(t.receive(tftpAck(2), now: 30).actions == [.sendData(block: 3, offset: 1024, length: 512)])
        // An older one too.
        #expect(t.receive(tftpAck(1), now: 40).isEmpty)
    }

    @Test func duplicateAcknowledgementOfTheOptionAcknowledgement() throws {
        var t = try tftpTransfer(size: 5000, [("tsize", "0")])
        _ = t.start(now: 0)
        #expect(t.receive(tftpAck(0)).actions.count == 1)
        #expect(t.receive(tftpAck(0)).ignored == .duplicateAcknowledgement)
    }

    @Test func partialWindowAcknowledgementStartsANewWindow() throws {
        var t = try tftpTransfer(size: 1468 * 100, [("blksize", "1468"), ("windowsize", "16")])
        _ = t.start(now: 0)
        _ = t.receive(tftpAck(0))
        // The client got 1…5, lost 6: RFC 7440 — the next window starts at 6.
        let step = t.receive(tftpAck(5), now: 50)
        #expect(step.actions.count == 16)
        #expect(step.actions.first == .sendData(block: 6, offset: 5 * 1468, length: 1468))
        #expect(t.sent == 21 && t.acknowledged == 5)
        // A late ACK of the old window's end is old news.
        #expect(t.receive(tftpAck(3), now: 60).isEmpty)
    }

    @Test func timeoutResendsWithBackoffThenGivesUp() throws {
        var t = try tftpTransfer(size: 5000) // 1 s base, 8 s cap, 5 retries
        #expect(t.start(now: 0).deadline == 1000)
        // Early: nothing.
        let early = t.timerFired(now: 999)
        #expect(early.isEmpty && early.deadline == 1000)
        var now: UInt64 = 1000
        for expected in [2000, 4000, 8000, 8000, 8000] as [UInt64] {
            let step = t.timerFired(now: now)
            #expect(step.actions == [.sendData(block: 1, offset: 0, length: 512)])
            #expect(step.deadline == now + expected)
            now += expected
        }
        #expect(t.retries == 5)
        let last = t.timerFired(now: now)
        #expect(last.actions == [.abort(.timedOut)])
        #expect(last.deadline == nil)
        #expect(t.phase == .aborted(.timedOut))
        #expect(t.receive(tftpAck(1)).ignored == .transferOver)
        #expect(t.timerFired(now: now + 100_000).isEmpty)
    }

    @Test func progressResetsTheBackoff() throws {
        var t = try tftpTransfer(size: 5000)
        _ = t.start(now: 0)
        _ = t.timerFired(now: 1000)
        _ = t.timerFired(now: 3000)
        #expect(t.retries == 2 && t.timeout == 4000)
        let step = t.receive(tftpAck(1), now: 3500)
        #expect(t.retries == 0 && t.timeout == 1000)
        #expect(step.deadline == 4500)
    }

    @Test func timeoutResendsTheUnacknowledgedWindow() throws {
        var t = try tftpTransfer(size: 1468 * 100, [("blksize", "1468"), ("windowsize", "16"), ("timeout", "2")])
        #expect(t.start(now: 0).deadline == 2000)
        // The OACK itself is retransmitted if ACK 0 does not come.
        #expect(t.timerFired(now: 2000).actions == [.sendOptionAcknowledgement(t.acceptedOptions)])
        _ = t.receive(tftpAck(0), now: 2500)
        _ = t.receive(tftpAck(16), now: 2600)
        let resend = t.timerFired(now: 4600)
        #expect(resend.actions.count == 16)
        #expect(resend.actions.first == .sendData(block: 17, offset: 16 * 1468, length: 1468))
        #expect(resend.actions.last == .sendData(block: 32, offset: 31 * 1468, length: 1468))
        // Backoff from the client's own 2 s: 4 s.
        #expect(resend.deadline == 8600)
    }

    @Test func clientTimeoutAboveTheCapIsNotShortened() throws {
        var t = try tftpTransfer(size: 5000, [("timeout", "20")])
        _ = t.start(now: 0)
        #expect(t.timerFired(now: 20_000).deadline == 40_000)
    }

    @Test func clientErrorAborts() throws {
        var t = try tftpTransfer(size: 5000)
        _ = t.start(now: 0)
        let step = t.receive(tftpClientError(0, "disk full"))
        #expect(step.actions == [.abort(.clientError)])
        #expect(step.deadline == nil)
        #expect(t.phase == .aborted(.clientError))
    }

    @Test func clientRefusingTheOptionAcknowledgementAborts() throws {
        var t = try tftpTransfer(size: 5000, [("blksize", "1468")])
        _ = t.start(now: 0)
        #expect(t.receive(tftpClientError(8, "bad blksize")).actions == [.abort(.optionsRefusedByClient)])
    }

    @Test(arguments: [UInt16(2), 3, 100, 0x7FFF, 0x8000, 65_000, 65_535])
    func acknowledgementBeyondWhatWasSent(block: UInt16) throws {
        var t = try tftpTransfer(size: 5000)
        _ = t.start(now: 0)
        let step = t.receive(tftpAck(block))
        #expect(step.actions == [.sendError(.illegalOperation, message: "acknowledgement of a block not sent"),
                                 .abort(.acknowledgementOutOfRange)])
    }

    @Test func acknowledgementOtherThanZeroAfterOptionAcknowledgement() throws {
        var t = try tftpTransfer(size: 5000, [("tsize", "0")])
        _ = t.start(now: 0)
        #expect(t.receive(tftpAck(1)).ending == .abort(.acknowledgementOutOfRange))
    }

    @Test func acknowledgementJustBeyondTheWindow() throws {
        var t = try tftpTransfer(size: 1468 * 100, [("blksize", "1468"), ("windowsize", "16")])
        _ = t.start(now: 0)
        _ = t.receive(tftpAck(0))
        #expect(t.receive(tftpAck(16)).actions.count == 16) // last in the window: fine
        #expect(t.receive(tftpAck(33)).ending == .abort(.acknowledgementOutOfRange))
    }

    @Test func malformedPacketsAreIgnored() throws {
        var t = try tftpTransfer(size: 5000)
        _ = t.start(now: 0)
        for bytes in [[], [0], [0, 4, 0], [0, 4, 0, 1, 0], [0, 9, 0, 1], [0, 5, 0, 1, 0x41]] as [[UInt8]] {
            let step = t.receive(bytes)
            #expect(step.isEmpty && step.ignored == .malformed && step.deadline == 1000)
        }
        #expect(t.phase == .sending)
    }

    @Test func unexpectedPacketsAbortWithIllegalOperation() throws {
        for bytes in [[0, 3, 0, 1, 0x41], tftpRequest(), tftpRequest(opcode: .writeRequest), [0, 6]] as [[UInt8]] {
            var t = try tftpTransfer(size: 5000)
            _ = t.start(now: 0)
            #expect(t.receive(bytes).actions == [.sendError(.illegalOperation, message: "unexpected packet"), .abort(.unexpectedPacket)])
        }
    }

    @Test func nothingHappensAfterTheEnd() throws {
        var t = try tftpTransfer(size: 10)
        _ = t.start(now: 0)
        #expect(t.receive(tftpAck(1)).actions == [.finished])
        #expect(t.receive(tftpAck(1)).ignored == .transferOver)
        #expect(t.timerFired(now: 10_000).isEmpty)
        #expect(t.start(now: 0).isEmpty)
    }
}

// MARK: Writing the packets

@Suite struct TFTPDatagramWriterTests {
    @Test func dataHeaderOnlyAndFileRange() throws {
        var slot = [UInt8](repeating: 0xEE, count: 16)
        let datagram = try slot.withUnsafeMutableBytes { buffer in
            try TFTPDatagramWriter.write(.sendData(block: 0, offset: 65_535 * 1468, length: 1468), into: buffer)
        }
        #expect(datagram == TFTPDatagramWriter.Datagram(length: 4, fileRange: 65_535 * 1468..<65_536 * 1468))
        #expect(Array(slot[0..<5]) == [0, 3, 0, 0, 0xEE])
        let n = try slot.withUnsafeMutableBytes { try TFTPDatagramWriter.writeDataHeader(block: 0x1234, into: $0) }
        #expect(n == 4 && Array(slot[0..<4]) == [0, 3, 0x12, 0x34])
    }

    @Test func optionAcknowledgementAndError() throws {
        var slot = [UInt8](repeating: 0, count: 64)
        let oack = try slot.withUnsafeMutableBytes {
            try TFTPDatagramWriter.write(.sendOptionAcknowledgement(TFTPOptionValues(blockSize: 1468, transferSize: 42)), into: $0)
        }
        #expect(Array(slot[0..<oack!.length]) == [0, 6] + Array("blksize\u{0}1468\u{0}tsize\u{0}42\u{0}".utf8))
        #expect(oack?.fileRange == nil)
        let error = try slot.withUnsafeMutableBytes {
            try TFTPDatagramWriter.write(.sendError(.accessViolation, message: "write requests refused"), into: $0)
        }
        #expect(Array(slot[0..<error!.length]) == [0, 5, 0, 2] + Array("write requests refused\u{0}".utf8))
        #expect(try slot.withUnsafeMutableBytes { try TFTPDatagramWriter.write(.finished, into: $0) } == nil)
    }

    @Test func tooSmallASlotThrows() {
        var slot = [UInt8](repeating: 0, count: 3)
        #expect(throws: WireError.self) {
            try slot.withUnsafeMutableBytes { try TFTPDatagramWriter.write(.sendData(block: 1, offset: 0, length: 0), into: $0) }
        }
    }
}

// MARK: Paths

@Suite struct TFTPPathResolverTests {
    static let resolver = TFTPPathResolver(rootPath: "/srv/tftp/".utf8)

    @Test(arguments: [
        ("pxelinux.0", "pxelinux.0"),
        ("/pxelinux.0", "pxelinux.0"),
        ("//pxelinux.cfg//01-52-54-00-00-00-01", "pxelinux.cfg/01-52-54-00-00-00-01"),
        ("./grub/./grub.cfg", "grub/grub.cfg"),
        ("\\EFI\\BOOT\\bootx64.efi", "EFI/BOOT/bootx64.efi"),
        ("grub\\x86_64-efi/normal.mod", "grub/x86_64-efi/normal.mod"),
        // The root's own absolute path is stripped; any other absolute path is under the root.
        ("/srv/tftp/pxelinux.0", "pxelinux.0"),
        ("\\srv\\tftp\\pxelinux.0", "pxelinux.0"),
        ("/srv/tftpx/pxelinux.0", "srv/tftpx/pxelinux.0"),
        ("/etc/passwd", "etc/passwd"),
        ("..hidden", "..hidden"),
        ("a/...", "a/..."),
        ("dir/", "dir"),
    ])
    func accepted(name: String, path: String) {
        #expect(Self.resolver.resolve(name.utf8) == .success(Array(path.utf8)))
    }

    @Test(arguments: [
        ("..", TFTPPathRefusal.parentComponent),
        ("../etc/passwd", .parentComponent),
        ("/../etc/passwd", .parentComponent),
        ("/srv/tftp/../../etc/shadow", .parentComponent),
        ("a/../b", .parentComponent),
        ("a/b/..", .parentComponent),
        ("..\\..\\windows\\win.ini", .parentComponent),
        ("a\\..\\..\\b", .parentComponent),
        ("pxelinux.0\u{0}../../etc/passwd", .nulByte),
        ("\u{0}", .nulByte),
        ("", .empty),
        ("/", .empty),
        ("./", .empty),
        ("\\\\", .empty),
        ("/srv/tftp/", .empty),
        (String(repeating: "x", count: 256), .tooLong),
        (Array(repeating: "abcdefg", count: 600).joined(separator: "/"), .tooLong),
    ])
    func refused(name: String, reason: TFTPPathRefusal) {
        #expect(Self.resolver.resolve(name.utf8) == .failure(reason))
        #expect(reason.errorCode == (reason == .empty ? .fileNotFound : .accessViolation))
    }

    @Test func outputIsNulTerminatedForOpenat() {
        var output = [UInt8](repeating: 0xFF, count: 32)
        let name = Array("\\a\\b".utf8)
        let resolution = name.withUnsafeBytes { n in output.withUnsafeMutableBytes { TFTPPathResolver().resolve(n, into: $0) } }
        #expect(resolution == .path(length: 3, components: 2))
        #expect(Array(output[0..<4]) == Array("a/b".utf8) + [0])
        // No room for the NUL: refused rather than truncated.
        var tiny = [UInt8](repeating: 0, count: 3)
        let refused = name.withUnsafeBytes { n in tiny.withUnsafeMutableBytes { TFTPPathResolver().resolve(n, into: $0) } }
        #expect(refused == .refused(.tooLong))
    }
}
