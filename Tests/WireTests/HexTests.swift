import Testing
import Wire

/// Hexadecimal text both ways: two digits a byte, either case read, lower case written.
struct HexTests {
    @Test func hexTextRoundTrips() {
        #expect(hexDecoded("0a1B") == [0x0A, 0x1B])
        #expect(hexDecoded("") == [])
        #expect(hexString(hexDecoded("00ff7F80")!) == "00ff7f80")
        #expect(hexDecoded(Array("6e6f".utf8)[...]) == [0x6E, 0x6F])
        #expect(hexString([0x52, 0x54, 0x00, 0xAB], separator: ":") == "52:54:00:ab")
        #expect(hexString([0x01], separator: ":") == "01")
        #expect(hexString([UInt8]()) == "")
    }

    @Test func anythingButPairsOfDigitsIsRefused() {
        for text in ["0", "0g", "g0", "0a1", " 0a", "0a ", "0x0a", "-1"] {
            #expect(hexDecoded(text) == nil, "\(text)")
        }
    }
}
