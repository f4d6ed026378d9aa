import Site

/// The two large parts of the compiler's model, kept from one pass to the next: the interfaces
/// (with their machines and boot tokens) and the DNS records. A write to a record thus does not
/// re-read 100k interfaces, nor a new machine 100k records. The small tables are read on every
/// pass. A kept part is read again when either of two things says one of its tables changed:
/// - its change counter moved. Statement triggers advance a sequence per part (migration 015),
///   and a pass reads the counters after its snapshot is taken, so a commit the snapshot sees
///   has always moved its counter, even if its notification has not been drained yet;
/// - a notification named one of its tables (`changed(table:)`, between passes). A transaction
///   still open when the snapshot was taken moved the counter before the pass read it, so the
///   counter alone would keep the part without that transaction's rows; its notification comes
///   after its commit, so after that pass.
///
/// Per rack it also keeps the rack's machines (`RackMachinesCache`) and what its site is
/// prepared from besides its records (`SitePreparationCache`); both check on every pass that
/// what they were built from is unchanged.
///
/// Used by one compiler thread only.
final class CompilerModelCache {
    private var interfaces: (counter: Int64, rows: [CompilerModel.Interface], expires: ContinuousClock.Instant?)?
    private var records: (counter: Int64, rows: [CompilerModel.Record])?
    /// Rises with every read of the interfaces.
    private(set) var interfacesVersion = 0
    /// By rack; racks gone from the model are dropped at the next pass.
    private var preparations: [Int64: (site: SitePreparationCache, machines: RackMachinesCache)] = [:]

    /// The interfaces kept at `counter`, unless a boot token among them has expired since
    /// (expiry changes what the query returns without moving the counter).
    func interfaces(at counter: Int64) -> [CompilerModel.Interface]? {
        guard let interfaces, interfaces.counter == counter else { return nil }
        if let expires = interfaces.expires, ContinuousClock.now >= expires { return nil }
        return interfaces.rows
    }

    func records(at counter: Int64) -> [CompilerModel.Record]? {
        guard let records, records.counter == counter else { return nil }
        return records.rows
    }

    /// `expires`: when the first boot token among them expires.
    func store(interfaces rows: [CompilerModel.Interface], at counter: Int64, expires: ContinuousClock.Instant?) {
        interfaces = (counter, rows, expires)
        interfacesVersion += 1
    }

    func store(records rows: [CompilerModel.Record], at counter: Int64) { records = (counter, rows) }

    /// Tables the interfaces query reads, and the records query.
    static let interfaceTables: Set<String> = ["interfaces", "machines", "boot_tokens"]
    static let recordTables: Set<String> = ["dns_records", "domains"]

    /// A notification on the model channel (its payload is the table's name), handled between
    /// passes.
    func changed(table: String) {
        if Self.interfaceTables.contains(table) { interfaces = nil }
        if Self.recordTables.contains(table) { records = nil }
    }

    /// After a failed pass or a lost connection.
    func invalidateAll() {
        interfaces = nil
        records = nil
    }

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
