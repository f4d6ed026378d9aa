import Testing
@testable import Tables

@Suite("ByteStringIndex")
struct ByteStringIndexTests {
    static func name(_ k: Int) -> [UInt8] { [UInt8(2 + String(k).utf8.count)] + Array("m-\(k)".utf8) + [4] + Array("maas".utf8) + [0] }

    @Test("ids are the order of first interning; a second intern finds the first; unknown bytes are -1")
    func idsInOrder() {
        var index = ByteStringIndex()
        #expect(index.intern(Self.name(1)) == (0, true))
        #expect(index.intern(Self.name(2)) == (1, true))
        #expect(index.intern([]) == (2, true))
        #expect(index.intern(Self.name(1)) == (0, false))
        #expect(index.find(Self.name(2)) == 1)
        #expect(index.find([]) == 2)
        #expect(index.find(Self.name(3)) == -1)
        #expect(index.count == 3)
        #expect(index.bytes(1) == Self.name(2))
    }

    @Test("a name's suffix is found as a slice, and a prefix of a stored name is not that name")
    func slicesAndPrefixes() {
        var index = ByteStringIndex()
        let apex: [UInt8] = [4] + Array("maas".utf8) + [0]
        index.intern(apex)
        let host = Self.name(7)
        #expect(index.find(host[(Int(host[0]) + 1)...]) == 0)
        #expect(index.find(Array(apex.dropLast())) == -1)
        #expect(index.find(host) == -1)
    }

    @Test("200,000 names through many growths: each keeps its id and its bytes")
    func growth() {
        var index = ByteStringIndex(minimumCapacity: 4)
        for k in 0..<200_000 { #expect(index.intern(Self.name(k)).added, "name \(k)") }
        var wrong = 0
        for k in stride(from: 0, to: 200_000, by: 7) where index.find(Self.name(k)) != Int32(k) || index.bytes(Int32(k)) != Self.name(k) {
            wrong += 1
        }
        #expect(wrong == 0)
        #expect(index.find(Self.name(200_000)) == -1)
    }

    @Test("a copy is a value: what one copy interns the other does not see")
    func copiesAreIndependent() {
        var kept = ByteStringIndex()
        for k in 0..<100 { kept.intern(Self.name(k)) }
        var copy = kept
        for k in 100..<1000 { copy.intern(Self.name(k)) }
        #expect(kept.count == 100)
        #expect(kept.find(Self.name(500)) == -1)
        #expect(copy.find(Self.name(500)) == 500)
        #expect(kept.intern(Self.name(100)) == (100, true))
        #expect(kept.bytes(100) == Self.name(100))
        #expect(copy.bytes(100) == Self.name(100))
    }
}
