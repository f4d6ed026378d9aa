import Site

/// The two large parts of the compiler's model, kept from one pass to the next: the interfaces
/// (with their machines and boot tokens) and the DNS records. Each is read again only after a
/// notification names one of its tables, so a write to a record does not re-read 100k
/// interfaces and a new machine does not re-read 100k records. The small tables are read on
/// every pass. Each rack's `SitePreparationCache` is kept here too: its DHCP sections and its
/// zones' host records are reused while the rack's site differs only in its records.
///
/// Used by one compiler thread only. A notification is delivered after its transaction commits,
/// so a part this pass takes from the cache holds every commit whose notification was drained
/// before the pass's snapshot (`TablesCompiler.compileAll` drains them after taking its lock).
/// A transaction that commits between that drain and the snapshot is seen only in the parts
/// read again; its notification, still pending, makes the next pass read the rest.
final class CompilerModelCache {
    private(set) var interfaces: [CompilerModel.Interface]?
    /// Rises with every read of the interfaces.
    private(set) var interfacesVersion = 0
    /// When the earliest boot token among `interfaces` expires: the query leaves expired tokens
    /// out, and expiry sends no notification.
    private var interfacesExpire: ContinuousClock.Instant?
    private(set) var records: [CompilerModel.Record]?
    /// By rack; racks gone from the model are dropped at the next pass.
    private var preparations: [Int64: (site: SitePreparationCache, machines: RackMachinesCache)] = [:]

    /// Tables whose rows the interfaces query reads.
    static let interfaceTables: Set<String> = ["interfaces", "machines", "boot_tokens"]
    /// Tables whose rows the records query reads.
    static let recordTables: Set<String> = ["dns_records", "domains"]

    /// A notification on the model channel: its payload is the changed table's name.
    func changed(table: String) {
        if Self.interfaceTables.contains(table) { interfaces = nil }
        if Self.recordTables.contains(table) { records = nil }
    }

    /// After a failed pass or a lost connection: what was missed is unknown.
    func invalidateAll() {
        interfaces = nil
        records = nil
    }

    /// The cached interfaces, unless a boot token among them has expired since.
    func currentInterfaces() -> [CompilerModel.Interface]? {
        if let interfacesExpire, ContinuousClock.now >= interfacesExpire { interfaces = nil }
        return interfaces
    }

    func store(interfaces: [CompilerModel.Interface], expiringIn seconds: Double?) {
        self.interfaces = interfaces
        interfacesVersion += 1
        interfacesExpire = seconds.map { ContinuousClock.now + .milliseconds(Int64(max(0, $0) * 1000)) }
    }

    func store(records: [CompilerModel.Record]) { self.records = records }

    func preparation(rack: Int64) -> (site: SitePreparationCache, machines: RackMachinesCache) {
        if let kept = preparations[rack] { return kept }
        let created = (SitePreparationCache(), RackMachinesCache())
        preparations[rack] = created
        return created
    }

    /// Forgets the preparations of racks not in `racks`.
    func keepPreparations(of racks: Set<Int64>) {
        preparations = preparations.filter { racks.contains($0.key) }
    }
}
