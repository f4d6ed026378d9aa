import Testing
@testable import LeaseStore

@Suite struct CRC32CTests {
    @Test("the check value: \"123456789\" → 0xE3069283")
    func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    /// RFC 3720 §B.4 (iSCSI) test patterns, and the empty input.
    static let rfc3720: [(bytes: [UInt8], crc: UInt32)] = [
        (Array(repeating: 0, count: 32), 0x8A91_36AA),
        (Array(repeating: 0xFF, count: 32), 0x62A8_AB43),
        (Array(0..<32), 0x46DD_794E),
        (Array((0..<32).reversed()), 0x113F_DB5C),
        ([], 0),
    ]

    @Test func rfc3720Vectors() {
        for vector in Self.rfc3720 { #expect(CRC32C.checksum(vector.bytes) == vector.crc) }
    }

    /// The slice-by-8 path against a bit-at-a-time reference, at every length and alignment
    /// around the 8-byte steps; and chaining equals checksumming the concatenation.
    @Test func sliceBy8MatchesBitwiseAtEveryLengthAndSplit() {
        func bitwise(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            }
            return ~crc
        }
        let data = (0..<96).map { UInt8(truncatingIfNeeded: $0 &* 167 &+ 13) }
        for start in 0..<9 {
            for end in start...data.count {
                let slice = data[start..<end]
                let fast = slice.withUnsafeBytes { CRC32C.checksum($0) }
                #expect(fast == bitwise(slice), "bytes \(start)..<\(end)")
            }
        }
        for split in 0...data.count {
            let first = CRC32C.checksum(Array(data[..<split]))
            #expect(CRC32C.checksum(Array(data[split...]), continuing: first) == CRC32C.checksum(data))
        }
    }
}
