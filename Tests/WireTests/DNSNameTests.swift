import Testing
@testable import Wire

/// Validates the name at `offset` of `message`; the error if it is refused.
private func nameError(_ message: [UInt8], at offset: Int) -> WireError? {
    message.withUnsafeBytes { buffer in
        do throws(WireError) {
            _ = try DNSName(in: buffer, at: offset, field: "dns.question.name")
            return nil
        } catch {
            return error
        }
    }
}

private func withName<T>(_ message: [UInt8], at offset: Int, _ body: (DNSName) -> T) throws -> T {
    try message.withUnsafeBytes { buffer in body(try DNSName(in: buffer, at: offset)) }
}

private let header = [UInt8](repeating: 0, count: 12)

/// A label of `n` bytes of "a".
private func label(_ n: Int) -> [UInt8] { [UInt8(n)] + [UInt8](repeating: 0x61, count: n) }

@Suite struct DNSNameTests {
    // MARK: Compression pointers

    @Test func selfPointerIsRefused() {
        // dns-zlip-1.pcap: the question name is a pointer to itself.
        #expect(nameError(header + [0xC0, 0x0C], at: 12) == WireError(.badPointer, "dns.question.name", at: 12))
    }

    @Test func pointerLoopThroughTwoNamesIsRefused() {
        // A at 16 points back to B at 12, which points forward to A.
        let message = header + [0xC0, 0x10, 0x00, 0x00, 0xC0, 0x0C]
        #expect(nameError(message, at: 16) == WireError(.badPointer, "dns.question.name", at: 12))
    }

    @Test func forwardPointerIsRefusedEvenToAValidName() {
        // dns-zlip-2.pcap starts the same way.
        #expect(nameError(header + [0xC0, 0x0E, 0x00], at: 12) == WireError(.badPointer, "dns.question.name", at: 12))
    }

    @Test func pointerToStartOfOwnSequenceIsRefused() {
        // dns-zlip-3.pcap: a label, then a pointer back to that same label.
        #expect(nameError(header + [0x01, 0x61, 0xC0, 0x0C], at: 12) == WireError(.badPointer, "dns.question.name", at: 14))
    }

    @Test func pointerIntoTheMiddleOfAnEarlierNameIsAllowed() throws {
        let message = header + [0x03] + Array("www".utf8) + [0x04] + Array("maas".utf8) + [0x00] + [0xC0, 0x10]
        try withName(message, at: 22) { name in
            #expect(name.description == "maas.")
            #expect(name.end == 24)
            #expect(name.wireLength == 6)
        }
    }

    @Test func chainOfPointersIsFollowed() throws {
        // 12: "a" root; 15: pointer to 12; 17: "b" + pointer to 15.
        let message = header + [0x01, 0x61, 0x00, 0xC0, 0x0C, 0x01, 0x62, 0xC0, 0x0F]
        try withName(message, at: 17) { name in
            #expect(name.description == "b.a.")
            #expect(name.labelCount == 2)
        }
    }

    @Test func pointerTargetBeforeTheMessageHeaderEndIsStillJustAnOffset() {
        // A pointer to offset 0 reads the header as labels; here that is a root byte.
        #expect(nameError(header + [0xC0, 0x00], at: 12) == nil)
    }

    // MARK: Label and name limits

    @Test func labelOf63BytesFitsAnd64DoesNot() {
        #expect(nameError(header + label(63) + [0], at: 12) == nil)
        #expect(nameError(header + label(64) + [0], at: 12) == WireError(.limitExceeded, "dns.question.name", at: 12))
    }

    @Test func reservedLabelTypesAreRefused() {
        #expect(nameError(header + [0x80, 0x00], at: 12) == WireError(.limitExceeded, "dns.question.name", at: 12))
        #expect(nameError(header + [0x41] + [UInt8](repeating: 0x61, count: 65) + [0], at: 12)
            == WireError(.limitExceeded, "dns.question.name", at: 12))
    }

    @Test func nameOf255BytesFitsAnd256DoesNot() {
        // 3 × (1 + 63) + (1 + 61) + root = 255.
        let fits = label(63) + label(63) + label(63) + label(61) + [0]
        #expect(fits.count == 255)
        #expect(nameError(header + fits, at: 12) == nil)
        let over = label(63) + label(63) + label(63) + label(62) + [0]
        #expect(nameError(header + over, at: 12) == WireError(.limitExceeded, "dns.question.name", at: 12 + 192))
    }

    @Test func lengthLimitCountsLabelsReachedThroughPointers() {
        // 200 bytes written at 12, then a name of 60 bytes + pointer: 61 + 200 > 255.
        let first = label(63) + label(63) + label(63) + label(7) + [0]
        let second = label(59) + [0xC0, 0x0C]
        let message = header + first + second
        #expect(nameError(message, at: 12 + first.count) == WireError(.limitExceeded, "dns.question.name", at: 12 + 192))
    }

    @Test func truncatedNamesAreRefused() {
        #expect(nameError(header, at: 12) == WireError(.truncated, "dns.question.name", at: 12))
        #expect(nameError(header + [0x03, 0x61, 0x62], at: 12) == WireError(.truncated, "dns.question.name", at: 12))
        #expect(nameError(header + [0x01, 0x61], at: 12) == WireError(.truncated, "dns.question.name", at: 14))
        #expect(nameError(header + [0xC0], at: 12) == WireError(.truncated, "dns.question.name", at: 12))
    }

    // MARK: Comparison

    @Test func namesCompareIgnoringCaseAcrossMessagesAndCompression() throws {
        var a: [UInt8] = [], b: [UInt8] = []
        try appendDNSText("WWW.Maas.TEST", to: &a)
        // b: "maas.test" at 12, then "www" + pointer to it.
        b = header
        try appendDNSText("maas.test", to: &b)
        b += [0x03] + Array("www".utf8) + [0xC0, 0x0C]
        try a.withUnsafeBytes { abuf in
            try b.withUnsafeBytes { bbuf in
                let left = try DNSName(wire: abuf)
                let right = try DNSName(in: bbuf, at: 23)
                #expect(left == right)
                #expect(right.matches(wire: abuf))
                #expect(left != (try DNSName(in: bbuf, at: 12)))
            }
        }
    }

    @Test func caseFoldingIsOnlyForASCIILetters() throws {
        // "@" (0x40) and "`" (0x60) differ by the same bit as "A" and "a" but are not letters.
        let at: [UInt8] = [0x01, 0x40, 0x00], backtick: [UInt8] = [0x01, 0x60, 0x00]
        try at.withUnsafeBytes { x in
            try backtick.withUnsafeBytes { y in
                let left = try DNSName(wire: x)
                let right = try DNSName(wire: y)
                #expect(left != right)
                #expect(!left.matches(wire: y))
            }
        }
    }

    @Test func matchesWireRejectsMalformedOrLongerInput() throws {
        var wire: [UInt8] = []
        try appendDNSText("maas.test", to: &wire)
        try wire.withUnsafeBytes { buffer in
            let name = try DNSName(wire: buffer)
            let extra = wire + [0]
            extra.withUnsafeBytes { #expect(!name.matches(wire: $0)) }
            let lying: [UInt8] = [0x05] + Array("maas".utf8) + [0x04] + Array("test".utf8)
            lying.withUnsafeBytes { #expect(!name.matches(wire: $0)) }
        }
    }

    // MARK: Presentation

    @Test func presentationEscapesDotsBackslashesAndNonPrintables() throws {
        let message: [UInt8] = [0x03, 0x61, 0x2E, 0x62, 0x02, 0x01, 0x5C, 0x03, 0x61, 0x20, 0xFF, 0x00]
        try message.withUnsafeBytes { buffer in
            let name = try DNSName(wire: buffer)
            #expect(name.description == "a\\.b.\\001\\\\.a\\032\\255.")
            #expect(name.displayName == "a\\.b.\\001\\\\.a\\032\\255")
        }
    }

    @Test func rootPresentation() throws {
        try [UInt8(0)].withUnsafeBytes { buffer in
            let root = try DNSName(wire: buffer)
            #expect(root.isRoot)
            #expect(root.description == ".")
            #expect(root.displayName == "<Root>")
            #expect(root.wireLength == 1)
        }
    }

    // MARK: Text to wire

    @Test func textToWireGolden() throws {
        var wire: [UInt8] = []
        try appendDNSText("www.maas.test", to: &wire)
        #expect(wire == [3, 0x77, 0x77, 0x77, 4, 0x6D, 0x61, 0x61, 0x73, 4, 0x74, 0x65, 0x73, 0x74, 0])
        var dotted: [UInt8] = []
        try appendDNSText("www.maas.test.", to: &dotted)
        #expect(dotted == wire)
    }

    @Test func textRootAndEscapes() throws {
        var root: [UInt8] = []
        try appendDNSText(".", to: &root)
        #expect(root == [0])
        var escaped: [UInt8] = []
        try appendDNSText("a\\.b.\\065\\\\", to: &escaped)
        #expect(escaped == [3, 0x61, 0x2E, 0x62, 2, 0x41, 0x5C, 0])
    }

    @Test func textPresentationRoundTrip() throws {
        let original: [UInt8] = [0x03, 0x61, 0x2E, 0x62, 0x02, 0x01, 0x5C, 0x03, 0x61, 0x20, 0xFF, 0x00]
        let text = try original.withUnsafeBytes { try DNSName(wire: $0).description }
        var again: [UInt8] = []
        try appendDNSText(text, to: &again)
        #expect(again == original)
    }

    @Test func textErrors() {
        #expect(textError("a..b") == WireError(.invalidValue, "dns.name.text", at: 2))
        #expect(textError(".a") == WireError(.invalidValue, "dns.name.text", at: 0))
        #expect(textError(String(repeating: "a", count: 64)) == WireError(.limitExceeded, "dns.name.text", at: 63))
        #expect(textError(String(repeating: "a", count: 63)) == nil)
        #expect(textError("a\\25") == WireError(.invalidValue, "dns.name.text", at: 1))
        #expect(textError("a\\256") == WireError(.invalidValue, "dns.name.text", at: 1))
        let fits = [String](repeating: String(repeating: "a", count: 63), count: 3).joined(separator: ".") + "." + String(repeating: "b", count: 61)
        #expect(textError(fits) == nil)
        #expect(textError(fits + "b")?.reason == .limitExceeded)
    }

    @Test func textThatDoesNotFitLeavesTheWriterUnchanged() {
        var storage = [UInt8](repeating: 0xEE, count: 8)
        storage.withUnsafeMutableBytes { buffer in
            var writer = WireWriter(buffer)
            try? writer.writeUInt8(7, "test")
            #expect(throws: WireError.self) { try DNSName.write(text: "www.maas.test", to: &writer) }
            #expect(writer.count == 1)
        }
    }
}

/// Appends `text` in wire form to `bytes`.
func appendDNSText(_ text: String, to bytes: inout [UInt8]) throws {
    var storage = [UInt8](repeating: 0, count: 512)
    let count = try storage.withUnsafeMutableBytes { buffer in
        var writer = WireWriter(buffer)
        try DNSName.write(text: text, to: &writer)
        return writer.count
    }
    bytes += storage[..<count]
}

private func textError(_ text: String) -> WireError? {
    var storage = [UInt8](repeating: 0, count: 512)
    return storage.withUnsafeMutableBytes { buffer in
        var writer = WireWriter(buffer)
        do throws(WireError) {
            try DNSName.write(text: text, to: &writer)
            return nil
        } catch {
            return error
        }
    }
}
