import Testing
@testable import Tables
import Wire

func sampleBuilder() -> TablesBuilder {
    var builder = TablesBuilder()
    builder.domain = "maas.test"
    builder.filesRoot = "/srv/rackplane"
    builder.upstreamDNS = [IPv4Address(198, 18, 0, 254)]
    var subnet = TablesBuilder.Subnet(network: IPv4Address(198, 18, 0, 0), prefixLength: 24)
    subnet.gateway = IPv4Address(198, 18, 0, 1)
    subnet.nextServer = IPv4Address(198, 18, 0, 1)
    subnet.dnsServers = [IPv4Address(198, 18, 0, 1)]
    subnet.domain = "maas.test"
    subnet.pools = [IPv4Address(198, 18, 0, 100)...IPv4Address(198, 18, 0, 250)]
    subnet.reserved = [IPv4Address(198, 18, 0, 1)...IPv4Address(198, 18, 0, 20)]
    subnet.circuitPins = [(Array("eth0/1".utf8), IPv4Address(198, 18, 0, 30))]
    builder.subnets = [subnet, TablesBuilder.Subnet(network: IPv4Address(198, 19, 0, 0), prefixLength: 16)]
    var node = TablesBuilder.Reservation(mac: MACAddress("52:54:00:00:00:01")!, address: IPv4Address(198, 18, 0, 21))
    node.hostname = "node01"
    node.purpose = .commission
    var byClientID = TablesBuilder.Reservation(mac: MACAddress("52:54:00:00:00:02")!, address: IPv4Address(198, 18, 0, 22))
    byClientID.clientID = [1, 0x52, 0x54, 0, 0, 0, 9]
    builder.reservations = [node, byClientID]
    var profile = TablesBuilder.BootProfile()
    profile.bios = "lpxelinux.0"
    profile.uefiX64 = "bootx64.efi"
    profile.ipxeScript = "http://198.18.0.1:5248/ipxe.cfg"
    builder.bootProfiles = [profile]
    return builder
}

func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

@Suite struct TableSnapshotTests {
    @Test func sha256MatchesKnownVectors() {
        #expect(hexString(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hexString(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(hexString(SHA256.hash(long)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Streaming in uneven pieces gives the same digest as one call.
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        var hasher = SHA256()
        var at = 0
        for piece in [1, 63, 64, 65, 1000, 7] + Array(repeating: 4096, count: 300) {
            let end = min(at + piece, million.count)
            million[at..<end].withUnsafeBytes { hasher.update($0) }
            at = end
        }
        million[at...].withUnsafeBytes { hasher.update($0) }
        #expect(hexString(hasher.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func builtSnapshotReadsBack() throws {
        let snapshot = try TableSnapshot(sampleBuilder().build(generation: 7, createdAt: 1_700_000_000))
        #expect(snapshot.generation == 7)
        #expect(snapshot.createdAt == 1_700_000_000)
        #expect(text(snapshot.domain) == "maas.test")
        #expect(text(snapshot.filesRoot) == "/srv/rackplane")
        #expect(Array(snapshot.upstreamDNS) == [IPv4Address(198, 18, 0, 254)])
        #expect(snapshot.isAuthoritative && !snapshot.isProxyDHCP)
        #expect(snapshot.subnetCount == 2)
        let subnet = try #require(snapshot.subnet(containing: IPv4Address(198, 18, 0, 77)))
        #expect(subnet.index == 0)
        #expect(subnet.gateway == IPv4Address(198, 18, 0, 1))
        #expect(subnet.leaseSeconds == 600)
        #expect(Array(subnet.dnsServers) == [IPv4Address(198, 18, 0, 1)])
        #expect(subnet.isInPool(IPv4Address(198, 18, 0, 100)) && !subnet.isInPool(IPv4Address(198, 18, 0, 99)))
        #expect(subnet.isReserved(IPv4Address(198, 18, 0, 20)) && !subnet.isReserved(IPv4Address(198, 18, 0, 21)))
        #expect(snapshot.subnet(containing: IPv4Address(198, 19, 3, 4))?.index == 1)
        #expect(snapshot.subnet(containing: IPv4Address(10, 0, 0, 1)) == nil)
        #expect(text(subnet.bootProfile.bios) == "lpxelinux.0")
        #expect(text(subnet.bootProfile.ipxeScript) == "http://198.18.0.1:5248/ipxe.cfg")
        #expect(subnet.bootProfile.uefiArm64.isEmpty)
    }

    @Test func reservationsAreFoundByMACClientIDAndCircuit() throws {
        let snapshot = try TableSnapshot(sampleBuilder().build(generation: 1))
        let node = try #require(snapshot.reservation(mac: MACAddress("52:54:00:00:00:01")!))
        #expect(node.address == IPv4Address(198, 18, 0, 21))
        #expect(text(node.hostname) == "node01")
        #expect(node.purpose == .commission)
        #expect(node.subnetIndex == 0)
        #expect(snapshot.reservation(mac: MACAddress("52:54:00:00:00:99")!) == nil)
        let id: [UInt8] = [1, 0x52, 0x54, 0, 0, 0, 9]
        let byID = try #require(id.withUnsafeBytes { snapshot.reservation(clientID: $0) })
        #expect(byID.address == IPv4Address(198, 18, 0, 22))
        #expect([UInt8]([1, 2]).withUnsafeBytes { snapshot.reservation(clientID: $0) } == nil)
        let pin = try #require(Array("eth0/1".utf8).withUnsafeBytes { snapshot.circuitPin($0) })
        #expect(pin.address == IPv4Address(198, 18, 0, 30) && pin.subnet == 0)
    }

    @Test func hundredThousandReservationsStayOneLookupAway() throws {
        var builder = TablesBuilder()
        builder.subnets = [TablesBuilder.Subnet(network: IPv4Address(198, 18, 0, 0), prefixLength: 15)]
        builder.reservations = (0..<100_000).map { i in
            var r = TablesBuilder.Reservation(mac: MACAddress(0x5254_0000_0000 + UInt64(i)), address: IPv4Address(0xC612_0000 + UInt32(i) + 1))
            r.hostname = "node\(i)"
            return r
        }
        let snapshot = try TableSnapshot(builder.build(generation: 1))
        for i in stride(from: 0, to: 100_000, by: 997) {
            let found = try #require(snapshot.reservation(mac: MACAddress(0x5254_0000_0000 + UInt64(i))))
            #expect(found.address == IPv4Address(0xC612_0000 + UInt32(i) + 1))
            #expect(text(found.hostname) == "node\(i)")
        }
        #expect(snapshot.reservation(mac: MACAddress(0x5254_0001_0000_0000 & 0xFFFF_FFFF_FFFF)) == nil)
    }

    // MARK: Corruption: every kind is named, none crashes.

    func expectRefused(_ bytes: [UInt8], _ kind: TablesError.Kind, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try TableSnapshot(bytes)
            Issue.record("accepted a corrupt snapshot", sourceLocation: sourceLocation)
        } catch {
            #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        }
    }

    /// Recomputes the digest, so a test reaches the checks behind the checksum.
    func resealed(_ bytes: [UInt8]) -> [UInt8] {
        var copy = bytes
        for i in 0..<32 { copy[TablesFormat.digestOffset + i] = 0 }
        let digest = SHA256.hash(copy)
        copy.replaceSubrange(TablesFormat.digestOffset..<TablesFormat.digestOffset + 32, with: digest)
        return copy
    }

    func sectionOffset(_ bytes: [UInt8], _ kind: TablesFormat.Section) -> Int {
        let count = Int(bytes[32]) | Int(bytes[33]) << 8
        for i in 0..<count {
            let at = TablesFormat.headerLength + i * TablesFormat.directoryEntryLength
            let value = UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8
            if value == kind.rawValue {
                return (0..<8).reduce(0) { $0 | Int(bytes[at + 16 + $1]) << (8 * $1) }
            }
        }
        return -1
    }

    @Test func corruptionIsDetectedAndNamed() {
        let good = sampleBuilder().build(generation: 3)
        expectRefused([], .truncated)
        expectRefused(Array(good[0..<100]), .truncated)
        expectRefused(Array(good.dropLast(8)), .truncated)
        var magic = good
        magic[0] = UInt8(ascii: "X")
        expectRefused(magic, .badMagic)
        var version = good
        version[8] = 3
        expectRefused(version, .wrongVersion)
        version[8] = 0
        expectRefused(version, .wrongVersion)
        var flipped = good
        flipped[good.count - 20] ^= 0x01
        expectRefused(flipped, .checksumMismatch)
        // Behind a valid checksum: a subnet pointing at a boot profile that does not exist.
        var badIndex = good
        let subnets = sectionOffset(good, .subnets)
        badIndex[subnets + 52] = 9
        expectRefused(resealed(badIndex), .indexOutOfRange)
        // A string reference past the strings section.
        var badString = good
        let reservations = sectionOffset(good, .reservations)
        badString[reservations + 20] = 0xFF
        expectRefused(resealed(badString), .indexOutOfRange)
        // A section moved past the end of the file.
        var badSection = good
        badSection[TablesFormat.headerLength + 16 + 3] = 0x7F
        expectRefused(resealed(badSection), .badSection)
        // A hash slot naming a reservation that does not exist.
        var badHash = good
        let byMAC = sectionOffset(good, .reservationsByMAC)
        for slot in 0..<8 where badHash[byMAC + slot * 16 + 8] != 0xFF {
            badHash[byMAC + slot * 16 + 8] = 0x77
            break
        }
        expectRefused(resealed(badHash), .indexOutOfRange)
    }

    @Test func bootArgumentsRideWithTheirReservationAndTheEnlistmentInTheSettings() throws {
        var builder = sampleBuilder()
        builder.reservations[1].bootArguments = "rackplane.token=abc rackplane.system_id=x7"
        builder.enlistBootArguments = "rackplane.enlist=http://198.18.0.1:5240/api/v1/enlist"
        let snapshot = try TableSnapshot(builder.build(generation: 5))
        #expect(snapshot.version == 2)
        #expect(text(snapshot.enlistBootArguments) == "rackplane.enlist=http://198.18.0.1:5240/api/v1/enlist")
        #expect(text(try #require(snapshot.reservation(mac: MACAddress("52:54:00:00:00:01")!)).bootArguments) == "")
        #expect(text(try #require(snapshot.reservation(mac: MACAddress("52:54:00:00:00:02")!)).bootArguments)
                == "rackplane.token=abc rackplane.system_id=x7")
    }

    @Test func aVersion1FileStillOpensWithoutBootArguments() throws {
        var builder = sampleBuilder()
        builder.reservations[0].bootArguments = "dropped in version 1"
        let bytes = builder.build(generation: 6, createdAt: 0, formatVersion: 1)
        let snapshot = try TableSnapshot(bytes)
        #expect(snapshot.version == 1)
        #expect(snapshot.count(.reservationBootArguments) == 0)
        #expect(snapshot.enlistBootArguments.isEmpty)
        #expect(try #require(snapshot.reservation(mac: MACAddress("52:54:00:00:00:01")!)).bootArguments.isEmpty)
        // Version 2 without the section is not a version-2 file.
        var relabelled = bytes
        relabelled[8] = 2
        expectRefused(resealed(relabelled), .badSection)
    }

    @Test func bootArgumentsForTheWrongNumberOfReservationsAreRefused() {
        var builder = sampleBuilder()
        builder.reservations[0].bootArguments = "x"
        let good = builder.build(generation: 7)
        // The directory entry's count says one record, but two reservations exist.
        var bad = good
        let count = Int(bad[32]) | Int(bad[33]) << 8
        for i in 0..<count {
            let at = TablesFormat.headerLength + i * TablesFormat.directoryEntryLength
            if bad[at] == UInt8(TablesFormat.Section.reservationBootArguments.rawValue) {
                bad[at + 8] = 1
                bad[at + 24] = 8
            }
        }
        expectRefused(resealed(bad), .badSection)
    }

    @Test func filesAreWrittenAtomicallyAndMappedBack() throws {
        let path = "/tmp/rackplane-tables-\(UInt32.random(in: 0...UInt32.max)).bin"
        defer { _ = path.withCString { unlinkFile($0) } }
        try TableFile.write(sampleBuilder().build(generation: 11), to: path)
        let snapshot = try TableFile.open(path)
        #expect(snapshot.generation == 11)
        #expect(snapshot.reservation(mac: MACAddress("52:54:00:00:00:01")!) != nil)
        #expect(throws: TablesError.self) { try TableFile.open(path + ".missing") }
    }

    /// A staged snapshot serves from its temporary file before it is durable; persisting it
    /// replaces the last one; a bad one leaves nothing behind; staging again never truncates a
    /// staged file that may still be mapped.
    @Test func stagedFilesServeBeforeTheyArePersisted() throws {
        let path = "/tmp/rackplane-tables-\(UInt32.random(in: 0...UInt32.max)).bin"
        defer { _ = path.withCString { unlinkFile($0) } }
        try TableFile.write(sampleBuilder().build(generation: 1), to: path)
        let (staged, temporary) = try TableFile.stage(sampleBuilder().build(generation: 2), for: path)
        #expect(staged.generation == 2)
        #expect(try TableFile.open(path).generation == 1)
        // Left unpersisted, then staged over: the first mapping still reads whole.
        let (next, sameTemporary) = try TableFile.stage(sampleBuilder().build(generation: 3), for: path)
        #expect(sameTemporary == temporary)
        #expect(staged.generation == 2 && staged.reservation(mac: MACAddress("52:54:00:00:00:01")!) != nil)
        try TableFile.persist(sameTemporary, to: path)
        #expect(access(temporary, F_OK) != 0)
        #expect(try TableFile.open(path).generation == 3)
        #expect(next.generation == 3)

        var bad = sampleBuilder().build(generation: 4)
        bad[bad.count / 2] ^= 0xFF
        #expect(throws: TablesError.self) { try TableFile.stage(bad, for: path) }
        #expect(access(temporary, F_OK) != 0)
        #expect(try TableFile.open(path).generation == 3)

        // What a process that died between stage and persist left is removed at start-up.
        let left = try TableFile.stage(sampleBuilder().build(generation: 5), for: path).temporary
        let otherProcess = path + ".tmp.1"
        #expect(rename(left, otherProcess) == 0)
        TableFile.removeStaged(for: path)
        #expect(access(otherProcess, F_OK) != 0)
        #expect(try TableFile.open(path).generation == 3)
    }

    /// A snapshot staged as it arrives (a rack's download) serves like one staged whole; a
    /// producer that throws midway, or pieces that do not validate, leave nothing behind.
    @Test func snapshotsStagedPieceByPieceServeAndBadOnesLeaveNothing() throws {
        let path = "/tmp/rackplane-tables-\(UInt32.random(in: 0...UInt32.max)).bin"
        defer { _ = path.withCString { unlinkFile($0) } }
        try TableFile.write(sampleBuilder().build(generation: 1), to: path)
        let bytes = sampleBuilder().build(generation: 2)
        let (staged, temporary) = try TableFile.stage(for: path) { write in
            try bytes.withUnsafeBytes { raw in
                // Uneven pieces, as a socket hands them over.
                var offset = 0
                var size = 1
                while offset < raw.count {
                    let end = min(raw.count, offset + size)
                    try write(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
                    offset = end
                    size = size * 3 + 1
                }
            }
        }
        #expect(staged.generation == 2 && staged.reservation(mac: MACAddress("52:54:00:00:00:01")!) != nil)
        try TableFile.persist(temporary, to: path)
        #expect(try TableFile.open(path).generation == 2)

        struct DownloadFailed: Error {}
        #expect(throws: DownloadFailed.self) {
            try TableFile.stage(for: path) { write in
                try bytes.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<100])) }
                throw DownloadFailed()
            }
        }
        #expect(access(temporary, F_OK) != 0)
        #expect(throws: TablesError.self) {
            try TableFile.stage(for: path) { write in
                try bytes.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<($0.count - 1)])) }
            }
        }
        #expect(access(temporary, F_OK) != 0)
        #expect(try TableFile.open(path).generation == 2)
    }
}

import Glibc
func unlinkFile(_ path: UnsafePointer<CChar>) -> Int32 { unlink(path) }
