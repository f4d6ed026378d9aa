import Tables
import Wire

/// Properties of the table snapshot reader, for its fuzz target and the regression replay.
public enum TablesChecks {
    /// Opens arbitrary bytes as a snapshot. Refusal is fine; what opens must then answer every
    /// accessor without a crash or an out-of-bounds read (validation promised it).
    public static func exerciseReader(_ bytes: UnsafeRawBufferPointer) {
        exercise(Array(bytes))
        // Random bytes almost never pass the SHA-256 check, so also try the input with its
        // digest recomputed: that sends mutations on to the structural checks behind it
        // (sections, indexes, string references, hash tables).
        if bytes.count >= TablesFormat.headerLength {
            var resealed = Array(bytes)
            for i in 0..<32 { resealed[TablesFormat.digestOffset + i] = 0 }
            resealed.replaceSubrange(TablesFormat.digestOffset..<TablesFormat.digestOffset + 32, with: SHA256.hash(resealed))
            exercise(resealed)
        }
    }

    private static func exercise(_ bytes: [UInt8]) {
        guard let snapshot = try? TableSnapshot(bytes) else { return }
        _ = (snapshot.domain.count, snapshot.filesRoot.count, Array(snapshot.upstreamDNS), snapshot.isProxyDHCP,
             snapshot.declineQuarantineSeconds, snapshot.perMACRequestsPerSecond, snapshot.zones.count)
        for i in 0..<snapshot.subnetCount {
            let subnet = snapshot.subnet(i)
            _ = (subnet.network, subnet.gateway, subnet.nextServer, subnet.leaseSeconds, subnet.domain.count,
                 Array(subnet.dnsServers), subnet.bootProfile.kernel.count, subnet.isReserved(subnet.network),
                 subnet.isInPool(subnet.broadcast))
            for range in subnet.ranges { _ = range.size }
            _ = snapshot.subnet(containing: subnet.network)
        }
        for i in 0..<snapshot.reservationCount {
            let reservation = snapshot.reservation(i)
            _ = (reservation.address, reservation.subnetIndex, reservation.hostname.count, reservation.purpose)
            _ = snapshot.reservation(mac: reservation.mac)
            _ = snapshot.reservation(clientID: reservation.clientID)
        }
        for i in 0..<snapshot.bootProfileCount {
            let profile = snapshot.bootProfile(i)
            _ = (profile.bios.count, profile.uefiX64.count, profile.ipxeScript.count, profile.commandLine.count)
        }
        // Zones: lookups of names that exist, do not, and are malformed for this table.
        let zones = snapshot.zoneTable
        let name = ZoneQueryName()
        for text in ["maas.test", "www.maas.test", "x.wild.maas.test", "a.b.c.d.e", "10.0.18.198.in-addr.arpa"] {
            guard let wire = ZoneNames.wire(text) else { continue }
            _ = wire.withUnsafeBytes { name.load($0, at: 0) }
            for type: UInt16 in [1, 5, 6, 12, 28, 255, 99] { _ = zones.resolve(name, type: type)?.records.count }
            if let zone = name.name.count > 0 ? zones.zone(apex: name.name) : nil { _ = zones.transferRecords(zone: zone).count }
        }
        for zone in 0..<zones.zoneCount { _ = (zones.serial(zone: zone), zones.transferRecords(zone: zone).count) }
        _ = (zones.recursionAllowed(0xC612_0001), zones.transferAllowed(0x7F00_0001))
        _ = snapshot.reservation(mac: MACAddress(0x5254_0000_0001))
        _ = Array("eth0/1".utf8).withUnsafeBytes { snapshot.circuitPin($0) }
    }

    /// A well-formed seed: what the site compiler produces for a small site.
    public static func sampleSnapshot() -> [UInt8] {
        var builder = TablesBuilder()
        builder.domain = "maas.test"
        var subnet = TablesBuilder.Subnet(network: IPv4Address(198, 18, 0, 0), prefixLength: 24)
        subnet.gateway = IPv4Address(198, 18, 0, 1)
        subnet.pools = [IPv4Address(198, 18, 0, 100)...IPv4Address(198, 18, 0, 250)]
        subnet.reserved = [IPv4Address(198, 18, 0, 1)...IPv4Address(198, 18, 0, 20)]
        subnet.circuitPins = [(Array("eth0/1".utf8), IPv4Address(198, 18, 0, 30))]
        builder.subnets = [subnet]
        var node = TablesBuilder.Reservation(mac: MACAddress(0x5254_0000_0001), address: IPv4Address(198, 18, 0, 21))
        node.hostname = "node01"
        node.clientID = [1, 2, 3]
        builder.reservations = [node]
        builder.zones = Array(DNSResponderChecks.zones.zones)
        return builder.build(generation: 1)
    }
}
