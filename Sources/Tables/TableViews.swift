import Wire

/// Typed, allocation-free views of snapshot records. A view is an offset plus an unowned
/// reference to its snapshot: copying one costs two words and no reference counting. A view
/// must not outlive the snapshot (the rack keeps a snapshot alive for the whole batch).
extension TableSnapshot {
    // MARK: Settings

    private var settingsOffset: Int { record(.settings, 0) }
    public var domain: UnsafeRawBufferPointer { string(stringRef(at: settingsOffset)) }
    public var filesRoot: UnsafeRawBufferPointer { string(stringRef(at: settingsOffset + 8)) }
    public var upstreamDNS: AddressList {
        AddressList(snapshot: self, first: Int(Self.u32(bytes, settingsOffset + 16)), count: Int(Self.u32(bytes, settingsOffset + 20)))
    }
    public var declineQuarantineSeconds: UInt32 { Self.u32(bytes, settingsOffset + 24) }
    public var perMACRequestsPerSecond: UInt32 { Self.u32(bytes, settingsOffset + 28) }
    public var isProxyDHCP: Bool { Self.u32(bytes, settingsOffset + 32) & SettingsRecord.proxyFlag != 0 }
    public var isAuthoritative: Bool { Self.u32(bytes, settingsOffset + 32) & SettingsRecord.authoritativeFlag != 0 }
    /// Extra kernel command-line words for a machine the tables do not know (it enlists): the
    /// region's enlistment URL. Empty in version-1 files and standalone racks' tables.
    public var enlistBootArguments: UnsafeRawBufferPointer { string(stringRef(at: settingsOffset + 36)) }

    // MARK: Subnets

    public var subnetCount: Int { count(.subnets) }

    public func subnet(_ index: Int) -> SubnetView {
        precondition(index < subnetCount)
        return SubnetView(snapshot: self, offset: record(.subnets, index), index: index)
    }

    /// The most specific subnet containing `address` (relay giaddr, or the address the rack
    /// received a broadcast on).
    public func subnet(containing address: IPv4Address) -> SubnetView? {
        var best: SubnetView?
        for i in 0..<subnetCount {
            let candidate = subnet(i)
            if candidate.contains(address), candidate.prefixLength >= (best?.prefixLength ?? 0) { best = candidate }
        }
        return best
    }

    // MARK: Reservations

    public var reservationCount: Int { count(.reservations) }

    public func reservation(_ index: Int) -> ReservationView {
        ReservationView(snapshot: self, offset: record(.reservations, index), index: index)
    }

    /// The reservation for a MAC: one probe in the common case.
    @inline(__always)
    public func reservation(mac: MACAddress) -> ReservationView? {
        let capacity = count(.reservationsByMAC)
        let mask = capacity - 1
        var slot = Int(TableHash.mac(mac.value) & UInt64(mask))
        for _ in 0..<capacity {
            let at = record(.reservationsByMAC, slot)
            let target = Self.u32(bytes, at + 8)
            if target == HashSlot.empty { return nil }
            if Self.u64(bytes, at) == mac.value { return reservation(Int(target)) }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// The reservation whose client identifier (option 61) is exactly `clientID`.
    public func reservation(clientID: UnsafeRawBufferPointer) -> ReservationView? {
        let hash = TableHash.bytes(clientID)
        return probe(.reservationsByClientID, hash: hash) { index in
            let candidate = reservation(index)
            return candidate.clientID.elementsEqual(clientID) ? candidate : nil
        }
    }

    /// The address pinned to an option-82 circuit id, and its subnet index.
    public func circuitPin(_ circuitID: UnsafeRawBufferPointer) -> (address: IPv4Address, subnet: Int)? {
        probe(.circuitPinsByID, hash: TableHash.bytes(circuitID)) { index in
            let at = record(.circuitPins, index)
            guard string(stringRef(at: at)).elementsEqual(circuitID) else { return nil }
            return (IPv4Address(Self.u32(bytes, at + 8)), Int(Self.u32(bytes, at + 12)))
        }
    }

    private func probe<T>(_ table: TablesFormat.Section, hash: UInt64, _ match: (Int) -> T?) -> T? {
        let capacity = count(table)
        let mask = capacity - 1
        var slot = Int(hash & UInt64(mask))
        for _ in 0..<capacity {
            let at = record(table, slot)
            let target = Self.u32(bytes, at + 8)
            if target == HashSlot.empty { return nil }
            if Self.u64(bytes, at) == hash, let found = match(Int(target)) { return found }
            slot = (slot + 1) & mask
        }
        return nil
    }

    // MARK: Boot

    public var bootProfileCount: Int { count(.bootProfiles) }

    public func bootProfile(_ index: Int) -> BootProfileView {
        BootProfileView(snapshot: self, offset: record(.bootProfiles, min(index, bootProfileCount - 1)))
    }
}

/// A list of IPv4 addresses in the addresses section.
public struct AddressList: RandomAccessCollection {
    unowned(unsafe) let snapshot: TableSnapshot
    let first: Int
    public let count: Int
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(position: Int) -> IPv4Address {
        IPv4Address(TableSnapshot.u32(snapshot.bytes, snapshot.record(.addresses, first + position)))
    }
}

public struct SubnetView {
    unowned(unsafe) let snapshot: TableSnapshot
    let offset: Int
    public let index: Int

    var b: UnsafeRawBufferPointer { snapshot.bytes }
    public var network: IPv4Address { IPv4Address(TableSnapshot.u32(b, offset)) }
    public var prefixLength: UInt8 { b[offset + 4] }
    public var mask: UInt32 { prefixLength == 0 ? 0 : ~UInt32(0) << (32 - UInt32(prefixLength)) }
    public var broadcast: IPv4Address { IPv4Address(network.value | ~mask) }
    @inline(__always) public func contains(_ address: IPv4Address) -> Bool { address.value & mask == network.value & mask }
    public var ignoresUnknownClients: Bool { b[offset + 5] == 1 }
    public var gateway: IPv4Address? { optional(TableSnapshot.u32(b, offset + 8)) }
    public var nextServer: IPv4Address? { optional(TableSnapshot.u32(b, offset + 12)) }
    public var leaseSeconds: UInt32 { TableSnapshot.u32(b, offset + 16) }
    /// Lease time for PXE firmware (0: the normal lease time).
    public var pxeLeaseSeconds: UInt32 { TableSnapshot.u32(b, offset + 20) }
    public var mtu: UInt16 { TableSnapshot.u16(b, offset + 24) }
    public var dnsServers: AddressList {
        AddressList(snapshot: snapshot, first: Int(TableSnapshot.u32(b, offset + 28)), count: Int(TableSnapshot.u32(b, offset + 32)))
    }
    public var domain: UnsafeRawBufferPointer { snapshot.string(snapshot.stringRef(at: offset + 36)) }
    public var bootProfile: BootProfileView { snapshot.bootProfile(Int(TableSnapshot.u32(b, offset + 52))) }
    public var ranges: RangeList {
        RangeList(snapshot: snapshot, first: Int(TableSnapshot.u32(b, offset + 44)), count: Int(TableSnapshot.u32(b, offset + 48)))
    }

    /// Whether `address` lies in one of this subnet's reserved ranges.
    public func isReserved(_ address: IPv4Address) -> Bool {
        ranges.contains { $0.kind == RangeRecord.reserved && $0.contains(address) }
    }

    /// Whether `address` lies in one of this subnet's dynamic pools.
    public func isInPool(_ address: IPv4Address) -> Bool {
        ranges.contains { $0.kind == RangeRecord.pool && $0.contains(address) }
    }

    private func optional(_ value: UInt32) -> IPv4Address? { value == 0 ? nil : IPv4Address(value) }
}

public struct RangeView {
    public let start: IPv4Address
    public let end: IPv4Address
    public let kind: UInt8
    public func contains(_ address: IPv4Address) -> Bool { address >= start && address <= end }
    public var isPool: Bool { kind == RangeRecord.pool }
    public var size: UInt32 { end.value - start.value + 1 }
}

public struct RangeList: RandomAccessCollection {
    unowned(unsafe) let snapshot: TableSnapshot
    let first: Int
    public let count: Int
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(position: Int) -> RangeView {
        let at = snapshot.record(.ranges, first + position)
        let b = snapshot.bytes
        return RangeView(start: IPv4Address(TableSnapshot.u32(b, at)), end: IPv4Address(TableSnapshot.u32(b, at + 4)), kind: b[at + 12])
    }
}

public struct ReservationView {
    unowned(unsafe) let snapshot: TableSnapshot
    let offset: Int
    let index: Int

    var b: UnsafeRawBufferPointer { snapshot.bytes }
    public var mac: MACAddress { MACAddress(TableSnapshot.u64(b, offset)) }
    public var address: IPv4Address? {
        let value = TableSnapshot.u32(b, offset + 8)
        return value == 0 ? nil : IPv4Address(value)
    }
    public var subnetIndex: Int? {
        let value = TableSnapshot.u32(b, offset + 12)
        return value == UInt32.max ? nil : Int(value)
    }
    public var hostname: UnsafeRawBufferPointer { snapshot.string(snapshot.stringRef(at: offset + 16)) }
    public var clientID: UnsafeRawBufferPointer { snapshot.string(snapshot.stringRef(at: offset + 24)) }
    public var purpose: BootPurpose { BootPurpose(rawValue: b[offset + 32]) ?? .local }
    public var architecture: MachineArchitecture { MachineArchitecture(rawValue: b[offset + 33]) ?? .unknown }
    /// Extra kernel command-line words for this machine's next boot (the region's per-boot
    /// report URL and token); empty when there are none, or in a version-1 file.
    public var bootArguments: UnsafeRawBufferPointer {
        guard index < snapshot.count(.reservationBootArguments) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return snapshot.string(snapshot.stringRef(at: snapshot.record(.reservationBootArguments, index)))
    }
}

public struct BootProfileView {
    unowned(unsafe) let snapshot: TableSnapshot
    let offset: Int

    private func field(_ n: Int) -> UnsafeRawBufferPointer { snapshot.string(snapshot.stringRef(at: offset + 8 + 8 * n)) }
    public var nextServer: IPv4Address? {
        let value = TableSnapshot.u32(snapshot.bytes, offset)
        return value == 0 ? nil : IPv4Address(value)
    }
    public var bios: UnsafeRawBufferPointer { field(0) }
    public var uefiX64: UnsafeRawBufferPointer { field(1) }
    public var uefiArm64: UnsafeRawBufferPointer { field(2) }
    public var httpBootURL: UnsafeRawBufferPointer { field(3) }
    public var ipxeScript: UnsafeRawBufferPointer { field(4) }
    public var kernel: UnsafeRawBufferPointer { field(5) }
    public var initrd: UnsafeRawBufferPointer { field(6) }
    public var commandLine: UnsafeRawBufferPointer { field(7) }
}
