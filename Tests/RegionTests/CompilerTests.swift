import Foundation
import Logging
import Tables
import Testing
import Wire
@testable import Region

/// Model → SiteConfiguration → SiteCompiler → snapshot, served by hash.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct CompilerTests {
    static let mac = MACAddress("52:54:00:00:00:01")!

    /// A served network with one machine (static 198.18.0.10) and a dynamic range.
    func populate(_ api: APIClient) async throws -> (rack: Int, machine: Int) {
        let network = try await api.makeNetwork()
        _ = try await api.create("/ranges", #"{"subnet_id": \#(network.subnet), "type": "dynamic", "start_ip": "198.18.0.100", "end_ip": "198.18.0.200"}"#)
        let machine = try await api.create("/machines", """
            {"hostname": "node-1", "architecture": "arm64",
             "interfaces": [{"mac": "\(Self.mac)", "subnet_id": \(network.subnet), "ip": "198.18.0.10"}]}
            """)
        return (network.rack, machine)
    }

    func compile(_ harness: RegionHarness) throws -> TablesCompiler.Report {
        try TablesCompiler().compileAll(on: PostgresConnection(harness.connectionString))
    }

    /// The rack's current snapshot, fetched as a rack would: with the shared secret, by hash.
    func fetchTables(_ api: APIClient, harness: RegionHarness, rack: Int) async throws -> (generation: Int, snapshot: TableSnapshot) {
        let current = try await api.get("/racks/\(rack)/tables")
        let sha = try #require(current.string("sha256"))
        let generation = try #require(current.int("generation"))
        let blob = try await api.get("/racks/\(rack)/tables/\(sha)", token: .rack)
        #expect(current.int("size") == blob.bytes.count)
        #expect(blob.status == 200)
        #expect(hexString(SHA256.hash(blob.bytes)) == sha)
        let snapshot = try TableSnapshot(blob.bytes)
        #expect(snapshot.generation == UInt64(generation))
        return (generation, snapshot)
    }

    @Test func compilesServedSubnetsAndMachinesIntoAVerifiedSnapshot() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, machine) = try await populate(api)
            let idle = try await api.create("/racks", #"{"name": "rack-2"}"#)
            let first = try compile(harness)
            #expect(Set(first.published.map(\.rackID)) == [Int64(rack), Int64(idle)])
            #expect(first.failed.isEmpty)

            let (generation, snapshot) = try await fetchTables(api, harness: harness, rack: rack)
            #expect(snapshot.subnetCount == 1)
            let subnet = snapshot.subnet(0)
            #expect(subnet.network == IPv4Address("198.18.0.0"))
            #expect(subnet.gateway == IPv4Address("198.18.0.1"))
            let reservation = try #require(snapshot.reservation(mac: Self.mac))
            #expect(reservation.address == IPv4Address("198.18.0.10"))
            #expect(reservation.purpose == .local)
            #expect(reservation.architecture == .arm64)
            #expect(String(decoding: reservation.hostname, as: UTF8.self) == "node-1")
            // A rack that serves no VLAN gets tables with nothing in them.
            #expect(try await fetchTables(api, harness: harness, rack: idle).snapshot.subnetCount == 0)

            // Nothing changed: no new generation.
            #expect(try compile(harness).published.isEmpty)

            // Commissioning changes what the machine boots: a new, higher generation.
            #expect(try await api.post("/machines/\(machine)/commission").status == 200)
            let second = try compile(harness)
            #expect(second.published.map(\.rackID) == [Int64(rack)])
            let (newGeneration, newSnapshot) = try await fetchTables(api, harness: harness, rack: rack)
            #expect(newGeneration > generation)
            #expect(newSnapshot.reservation(mac: Self.mac)?.purpose == .commission)
        }
    }

    /// Every change stores a snapshot; the superseded ones beyond a few are deleted, and the
    /// one a rack serves never is.
    @Test func supersededSnapshotsArePruned() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, _) = try await populate(api)
            _ = try compile(harness)
            for index in 0..<(TablesCompiler.supersededSnapshotsKept + 3) {
                _ = try await api.create("/records", #"{"domain_id": 1, "name": "r\#(index)", "type": "A", "value": "198.18.1.\#(index + 1)"}"#)
                #expect(try compile(harness).published.map(\.rackID) == [Int64(rack)])
            }
            let connection = try PostgresConnection(harness.connectionString)
            let stored = try connection.query("SELECT count(*) FROM table_snapshots").scalar.flatMap(Int.init)
            #expect(stored == 1 + TablesCompiler.supersededSnapshotsKept)
            // The served one is still there, and whole.
            let served = try await fetchTables(api, harness: harness, rack: rack)
            #expect(served.snapshot.reservation(mac: Self.mac) != nil)
        }
    }

    /// The compiler reads records in the order they were created, not by name: that order is
    /// the order of an RRset's records, and of a CNAME and other data at one name the first
    /// created is the one the zones keep.
    @Test func recordsAreReadInTheOrderTheyWereCreated() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            _ = try await populate(api)
            for (name, value) in [("zz", "198.18.1.3"), ("aa", "198.18.1.1"), ("mm", "198.18.1.2"), ("aa", "198.18.1.0")] {
                _ = try await api.create("/records", #"{"domain_id": 1, "name": "\#(name)", "type": "A", "value": "\#(value)"}"#)
            }
            let records = try TablesCompiler.readRecords(on: PostgresConnection(harness.connectionString))
            let created = records.filter { ["zz", "aa", "mm"].contains($0.name) }.map { "\($0.name) \($0.value)" }
            #expect(created == ["zz 198.18.1.3", "aa 198.18.1.1", "mm 198.18.1.2", "aa 198.18.1.0"])
        }
    }

    /// Asked to (`pruneWithNextStore`, in a burst of writes), the storer prunes after its next
    /// store, on its own thread and connection: the compiler does not wait for it.
    @Test func theStorerPrunesAfterItsNextStoreWhenAsked() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, _) = try await populate(api)
            let connection = try PostgresConnection(harness.connectionString)
            let storer = SnapshotStorer(connectionString: harness.connectionString)
            func stored() throws -> Int? { try connection.query("SELECT count(*) FROM table_snapshots").scalar.flatMap(Int.init) }
            func compileOnce() throws -> PublishedTables? {
                let report = try TablesCompiler().compileAll(on: connection, cache: nil, prune: false, storer: storer)
                storer.collect(waiting: true)
                TablesCompiler.releaseLockIfIdle(storer, on: connection)
                return report.published.first
            }
            _ = try compileOnce()
            let kept = TablesCompiler.supersededSnapshotsKept
            for index in 0..<(kept + 3) {
                _ = try await api.create("/records", #"{"domain_id": 1, "name": "r\#(index)", "type": "A", "value": "198.18.1.\#(index + 1)"}"#)
                #expect(try compileOnce()?.rackID == Int64(rack))
            }
            // Nothing pruned without asking.
            #expect(try stored() == kept + 4)
            storer.pruneWithNextStore = true
            _ = try await api.create("/records", #"{"domain_id": 1, "name": "last", "type": "A", "value": "198.18.2.1"}"#)
            let last = try #require(try compileOnce())
            #expect(!storer.pruneWithNextStore)
            let outcomes = storer.takeOutcomes()
            #expect(outcomes.last?.tables == last)
            #expect(outcomes.allSatisfy { $0.error == nil && $0.pruneError == nil })
            #expect(try stored() == 1 + kept)
            let served = try await fetchTables(api, harness: harness, rack: rack)
            #expect(UInt64(served.generation) == last.generation)
            #expect(!storer.holdsCompileLock)
        }
    }

    /// A store that fails has not pruned: the prune asked of it waits for the next store.
    @Test func aPruneAskedOfAFailedStoreIsAskedOfTheNext() {
        // Nothing listens there: the store fails, and so does its retry.
        let storer = SnapshotStorer(connectionString: "host=/nonexistent-rackplane-socket-dir dbname=none connect_timeout=2")
        let tables = PublishedTables(rackID: 1, generation: 7, sha256: String(repeating: "0", count: 64), size: 3)
        storer.pruneWithNextStore = true
        storer.submit(SnapshotStorer.Job(tables: tables, bytes: [1, 2, 3], fingerprint: "f", waitingCycles: nil))
        #expect(!storer.pruneWithNextStore)
        storer.collect(waiting: true)
        let outcome = storer.takeOutcomes().first
        #expect(outcome?.error != nil)
        #expect(outcome?.pruneError == nil)
        #expect(storer.pruneWithNextStore)
    }

    /// The compiling region hands a new snapshot to its own racks once it is checked and before
    /// it is stored (they download it from memory meanwhile); when the pass returns it is
    /// stored and recorded on the rack, as other regions' racks need it.
    @Test func aSnapshotIsHandedOnCheckedBeforeItIsStored() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, _) = try await populate(api)
            let observer = try PostgresConnection(harness.connectionString)
            var handed: [(PublishedTables, storedYet: String?, recordedYet: String?)] = []
            let report = try TablesCompiler().compileAll(on: PostgresConnection(harness.connectionString), cache: nil, prune: false) { tables, bytes in
                #expect(hexString(SHA256.hash(bytes)) == tables.sha256)
                #expect(bytes.count == tables.size)
                #expect((try? TableSnapshot(bytes))?.generation == tables.generation)
                // The closure cannot throw: a failed query is recorded as nil (count(*) always
                // answers a row) and fails below.
                let stored = (try? observer.query("SELECT count(*) FROM table_snapshots WHERE sha256 = $1", [tables.sha256]).scalar)
                let recorded = try? observer.query("SELECT count(*) FROM rack_controllers WHERE id = $1::bigint AND tables_sha256 = $2",
                                                   [String(tables.rackID), tables.sha256]).scalar
                handed.append((tables, stored, recorded))
            }
            #expect(handed.map(\.0) == report.published)
            #expect(handed.map(\.0.rackID) == [Int64(rack)])
            // Neither stored nor recorded yet, and both queries answered.
            #expect(handed.allSatisfy { $0.storedYet == "0" && $0.recordedYet == "0" })
            let served = try await fetchTables(api, harness: harness, rack: rack)
            #expect(UInt64(served.generation) == handed.first?.0.generation)
        }
    }

    /// With a `SnapshotStorer`, a pass stores on another thread and goes on. While that store
    /// is held back, the rack's row is stale: the next pass compares with what the store will
    /// record (no new generation for unchanged tables), a change gets the next generation,
    /// stored after the first, and the compile lock is kept until no store is in flight.
    @Test func aPassWhileAStoreIsInFlightComparesWithWhatItWillRecord() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, _) = try await populate(api)
            let connection = try PostgresConnection(harness.connectionString)
            let observer = try PostgresConnection(harness.connectionString)
            let gate = DispatchSemaphore(value: 0)
            let storer = SnapshotStorer(connectionString: harness.connectionString, beforeStore: { gate.wait() })
            func recorded() throws -> String? {
                try observer.query("SELECT tables_generation FROM rack_controllers WHERE id = $1::bigint", [String(rack)]).scalar
            }
            func locksHeld() throws -> String? {
                // In this test's database (other tests share the server).
                try observer.query("""
                    SELECT count(*) FROM pg_locks
                    WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    """).scalar
            }

            let first = try TablesCompiler().compileAll(on: connection, cache: nil, prune: false, storer: storer)
            let firstTables = try #require(first.published.first)
            #expect(first.published.map(\.rackID) == [Int64(rack)])
            #expect(try recorded() == nil)
            #expect(!storer.isIdle && storer.holdsCompileLock)
            #expect(try locksHeld() == "1")

            let unchanged = try TablesCompiler().compileAll(on: connection, cache: nil, prune: false, storer: storer)
            #expect(unchanged.published.isEmpty)
            #expect(try recorded() == nil)

            _ = try await api.create("/records", #"{"domain_id": 1, "name": "www", "type": "A", "value": "198.18.1.1"}"#)
            // The next submit waits for the first store: let both go.
            gate.signal()
            gate.signal()
            let changed = try TablesCompiler().compileAll(on: connection, cache: nil, prune: false, storer: storer)
            let changedTables = try #require(changed.published.first)
            #expect(changedTables.generation > firstTables.generation)
            storer.collect(waiting: true)
            let outcomes = storer.takeOutcomes()
            #expect(outcomes.map(\.tables) == [firstTables, changedTables])
            #expect(outcomes.allSatisfy { $0.recorded && $0.error == nil })
            #expect(try recorded() == String(changedTables.generation))
            #expect(try observer.query("SELECT count(*) FROM table_snapshots WHERE sha256 = ANY ($1::text[])",
                                       ["{\(firstTables.sha256),\(changedTables.sha256)}"]).scalar == "2")
            TablesCompiler.releaseLockIfIdle(storer, on: connection)
            #expect(!storer.holdsCompileLock)
            #expect(try locksHeld() == "0")

            // A row never goes back: the first generation stored again records nothing.
            let again = SnapshotStorer.Job(tables: firstTables, bytes: [], fingerprint: firstTables.sha256, waitingCycles: nil)
            #expect(try TablesCompiler.store(again, on: connection) == false)
            #expect(try recorded() == String(changedTables.generation))
        }
    }

    /// The service with every store held back: racks are told of each generation and can
    /// download it, also one whose store has not ended while a newer one is already announced
    /// (it is in no database yet, only in memory); once the stores go, the rack's row records
    /// the newest.
    @Test(.timeLimit(.minutes(1))) func racksDownloadWhatIsStillBeingStored() async throws {
        let harness = try await RegionHarness.make()
        var logger = Logger(label: "storer-test")
        logger.logLevel = .warning
        let gate = DispatchSemaphore(value: 0)
        let compiler = CompilerService(connectionString: harness.connectionString, debounce: .milliseconds(20),
                                       metrics: harness.metrics, logger: logger, beforeStore: { gate.wait() })
        let announced = compiler.publications()
        try await harness.run(compiler: compiler) { api in
            // However the test ends, the stores go, or the compiler could not stop.
            defer { for _ in 0..<1000 { gate.signal() } }
            let (rack, _) = try await populate(api)
            var iterator = announced.makeAsyncIterator()
            func next() async throws -> PublishedTables {
                while let tables = await iterator.next() {
                    if tables.rackID == Int64(rack) { return tables }
                }
                throw CancellationError()
            }
            let first = try await next()
            _ = try await api.create("/records", #"{"domain_id": 1, "name": "held", "type": "A", "value": "198.18.1.7"}"#)
            var second = try await next()
            while second.generation <= first.generation { second = try await next() }
            // Neither is stored: the first's store waits at the gate, the second's for the first.
            for tables in [first, second] {
                let blob = try await api.get("/racks/\(rack)/tables/\(tables.sha256)", token: .rack)
                #expect(blob.status == 200)
                #expect(hexString(SHA256.hash(blob.bytes)) == tables.sha256)
            }
            for _ in 0..<100 { gate.signal() }
            var recorded = 0
            for _ in 0..<500 where recorded < Int(second.generation) {
                recorded = try await api.get("/racks/\(rack)/tables").int("generation") ?? 0
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(recorded >= Int(second.generation))
        }
    }

    /// System ids come from a sequence through a bijection: never the same twice.
    @Test func systemIDsAreUniqueAndLookRandom() async throws {
        let harness = try await RegionHarness.make()
        let connection = try PostgresConnection(harness.connectionString)
        let ids = try connection.query("SELECT rackplane_next_system_id() FROM generate_series(1, 20000)").rows.compactMap { $0[0] }
        #expect(ids.count == 20000)
        #expect(Set(ids).count == 20000)
        #expect(ids.allSatisfy { $0.count == 8 && $0.allSatisfy(\.isHexDigit) })
        // Consecutive ids do not share their leading digits (they are not a visible counter).
        #expect(ids[0].prefix(4) != ids[1].prefix(4))
    }

    @Test func tablesEndpointsRefuseUnknownHashesAndRacks() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let rack = try await api.create("/racks", #"{"name": "rack-1"}"#)
            let nothingYet = try await api.get("/racks/\(rack)/tables", token: .rack)
            #expect(nothingYet.status == 404)
            #expect(nothingYet.error == "nothing is compiled for rack \(rack) yet")
            #expect(try await api.get("/racks/\(rack)/tables/\(String(repeating: "0", count: 64))").status == 404)
            #expect(try await api.get("/racks/\(rack)/tables/not-a-hash").status == 404)
            #expect(try await api.get("/racks/424242/tables").status == 404)
        }
    }

    /// With the cache, a pass reads again only the part of the model whose change counter moved,
    /// and its tables are the same as a pass that read everything. No notification is listened
    /// for: a write straight into the database is seen as well.
    @Test func cachedModelPartsAreReadAgainOnlyWhenTheirTablesChange() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, machine) = try await populate(api)
            let connection = try PostgresConnection(harness.connectionString)
            let cache = CompilerModelCache()
            func pass() throws -> TablesCompiler.Report {
                try TablesCompiler().compileAll(on: connection, cache: cache, prune: true)
            }
            func has(_ name: String, _ snapshot: TableSnapshot) -> Bool {
                ZoneNames.wire(name)!.withUnsafeBytes { snapshot.zoneTable.find($0) >= 0 }
            }
            #expect(try pass().cachedModelParts.isEmpty)
            // Nothing changed: both parts come from the cache and the tables stay.
            let quiet = try pass()
            #expect(quiet.cachedModelParts == ["interfaces", "records"])
            #expect(quiet.published.isEmpty)

            // A record: the records are read again, the interfaces are not, and the rack's
            // machines are the same array as before.
            let machinesBefore = cache.preparation(rack: Int64(rack)).machines.machines
            _ = try await api.create("/records", #"{"domain_id": 1, "name": "cached-probe", "type": "A", "value": "198.18.1.9"}"#)
            let afterRecord = try pass()
            #expect(afterRecord.cachedModelParts == ["interfaces"])
            #expect(afterRecord.published.map(\.rackID) == [Int64(rack)])
            cache.preparation(rack: Int64(rack)).machines.machines.withUnsafeBufferPointer { after in
                machinesBefore.withUnsafeBufferPointer { #expect($0.baseAddress == after.baseAddress && after.count == 1) }
            }
            #expect(cache.preparation(rack: Int64(rack)).site.reused >= 2)
            var tables = try await fetchTables(api, harness: harness, rack: rack)
            #expect(has("cached-probe.maas", tables.snapshot))
            #expect(has("node-1.maas", tables.snapshot))

            // A machine renamed: the interfaces are read again, the records are not.
            #expect(try await api.put("/machines/\(machine)", #"{"hostname": "node-renamed"}"#).status == 200)
            let afterMachine = try pass()
            #expect(afterMachine.cachedModelParts == ["records"])
            tables = try await fetchTables(api, harness: harness, rack: rack)
            #expect(has("node-renamed.maas", tables.snapshot))
            #expect(!has("node-1.maas", tables.snapshot))
            #expect(has("cached-probe.maas", tables.snapshot))

            // Straight into the database, past the API (and with no notification listened
            // for): a record's value moves the records' counter, a machine's name the
            // interfaces', and the tables show both.
            try connection.query("UPDATE dns_records SET value = '198.18.1.10' WHERE name = 'cached-probe'")
            #expect(try pass().cachedModelParts == ["interfaces"])
            try connection.query("UPDATE machines SET hostname = 'node-direct' WHERE id = $1::bigint", [String(machine)])
            #expect(try pass().cachedModelParts == ["records"])
            tables = try await fetchTables(api, harness: harness, rack: rack)
            #expect(has("node-direct.maas", tables.snapshot))
            #expect(has("cached-probe.maas", tables.snapshot))

            // The same model read whole compiles to the same tables: nothing to publish.
            #expect(try compile(harness).published.isEmpty)
            cache.invalidateAll()
            #expect(try pass().cachedModelParts.isEmpty)
        }
    }

    /// A transaction still open when a pass takes its snapshot has moved the counter already:
    /// the pass keeps interfaces without its rows. Its notification, handled after that pass as
    /// the compiler service does, makes the next pass read them again.
    @Test func aTransactionOpenDuringAPassIsReadOnceItCommits() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let (rack, machine) = try await populate(api)
            let compiler = try PostgresConnection(harness.connectionString)
            try compiler.query("LISTEN \(CompilerService.modelChannel)")
            let cache = CompilerModelCache()
            func pass() throws -> TablesCompiler.Report {
                let report = try TablesCompiler().compileAll(on: compiler, cache: cache, prune: true)
                for notification in try compiler.drainNotifications() { cache.changed(table: notification.payload) }
                return report
            }
            _ = try pass()
            let writer = try PostgresConnection(harness.connectionString)
            try writer.query("BEGIN")
            try writer.query("UPDATE machines SET hostname = 'node-late' WHERE id = $1::bigint", [String(machine)])
            // The counter moved; the rows are not in this pass's snapshot.
            #expect(try pass().cachedModelParts == ["records"])
            try writer.query("COMMIT")
            // Notifications arrive after the commit; give the server a moment to send them.
            var changed = false
            for _ in 0..<100 where !changed {
                for notification in try compiler.drainNotifications() {
                    cache.changed(table: notification.payload)
                    changed = true
                }
                if !changed { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(changed)
            let after = try pass()
            #expect(after.cachedModelParts == ["records"])
            #expect(after.published.map(\.rackID) == [Int64(rack)])
            let tables = try await fetchTables(api, harness: harness, rack: rack)
            #expect(ZoneNames.wire("node-late.maas")!.withUnsafeBytes { tables.snapshot.zoneTable.find($0) >= 0 })
        }
    }

    /// Expired boot tokens leave the interfaces query without moving its counter, so kept
    /// interfaces last only until the first of their tokens expires.
    @Test func cachedInterfacesLastUntilTheirFirstTokenExpires() {
        let cache = CompilerModelCache()
        cache.store(interfaces: [], at: 4, expires: nil)
        #expect(cache.interfaces(at: 4) != nil)
        #expect(cache.interfaces(at: 5) == nil)
        cache.store(interfaces: [], at: 5, expires: .now)
        #expect(cache.interfaces(at: 5) == nil)
        cache.store(interfaces: [], at: 5, expires: .now + .seconds(3600))
        #expect(cache.interfaces(at: 5) != nil)
        cache.store(records: [], at: 2)
        #expect(cache.records(at: 2) != nil && cache.records(at: 3) == nil)
        cache.invalidateAll()
        #expect(cache.interfaces(at: 5) == nil && cache.records(at: 2) == nil)
    }

    /// The snapshots a region keeps for the racks' downloads: each rack's newest, the newest
    /// of all whatever its size, older racks' while they fit.
    @Test func recentSnapshotsKeepEachRacksNewestWhileTheyFit() {
        let recent = RecentSnapshots(maximumBytes: 100)
        // Each stored before the next is compiled.
        func remember(_ rack: Int64, _ sha: String, _ byte: UInt8, _ count: Int) {
            recent.remember(rack: rack, sha256: sha, bytes: [UInt8](repeating: byte, count: count))
            recent.storeEnded(sha256: sha)
        }
        remember(1, "a", 1, 60)
        remember(1, "b", 2, 30)
        #expect(recent.bytes(sha256: "a") == nil)
        remember(2, "c", 3, 20)
        #expect(recent.bytes(sha256: "b") == [UInt8](repeating: 2, count: 30))
        #expect(recent.bytes(sha256: "c")?.count == 20)
        remember(3, "d", 4, 70)
        #expect(recent.bytes(sha256: "b") == nil)
        #expect(recent.bytes(sha256: "c") != nil)
        remember(2, "e", 5, 500)
        #expect(recent.bytes(sha256: "c") == nil && recent.bytes(sha256: "d") == nil)
        #expect(recent.bytes(sha256: "e")?.count == 500)
    }

    /// A snapshot whose store has not ended is the only copy there is: it stays though its rack
    /// has a newer one and the room is short, and goes once its store ends.
    @Test func recentSnapshotsKeepWhatIsStillBeingStored() {
        let recent = RecentSnapshots(maximumBytes: 100)
        recent.remember(rack: 1, sha256: "a", bytes: [UInt8](repeating: 1, count: 60))
        recent.remember(rack: 1, sha256: "b", bytes: [UInt8](repeating: 2, count: 60))
        #expect(recent.bytes(sha256: "a")?.count == 60)
        #expect(recent.bytes(sha256: "b")?.count == 60)
        recent.storeEnded(sha256: "a")
        #expect(recent.bytes(sha256: "a") == nil)
        #expect(recent.bytes(sha256: "b")?.count == 60)
        // The newest of its rack stays when its store ends.
        recent.storeEnded(sha256: "b")
        #expect(recent.bytes(sha256: "b")?.count == 60)
        // Over the room, an older rack's snapshot goes only once it is stored.
        recent.remember(rack: 2, sha256: "c", bytes: [UInt8](repeating: 3, count: 60))
        #expect(recent.bytes(sha256: "b") == nil)
        recent.remember(rack: 3, sha256: "d", bytes: [UInt8](repeating: 4, count: 60))
        #expect(recent.bytes(sha256: "c")?.count == 60)
        recent.storeEnded(sha256: "c")
        recent.remember(rack: 4, sha256: "e", bytes: [UInt8](repeating: 5, count: 10))
        #expect(recent.bytes(sha256: "c") == nil)
        #expect(recent.bytes(sha256: "d")?.count == 60 && recent.bytes(sha256: "e")?.count == 10)
    }

    /// A write through the API wakes the compiler through PostgreSQL (LISTEN/NOTIFY), which
    /// publishes the rack's new tables without anybody asking.
    @Test func writesTriggerARecompileThroughNotify() async throws {
        let harness = try await RegionHarness.make()
        var logger = Logger(label: "compiler-test")
        logger.logLevel = .warning
        let compiler = CompilerService(connectionString: harness.connectionString, debounce: .milliseconds(20), metrics: harness.metrics, logger: logger)
        let publications = compiler.publications()
        try await harness.run(compiler: compiler) { api in
            let (rack, _) = try await populate(api)
            // Generations may come for intermediate states of the burst; wait for the one that has the machine.
            let found = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for await published in publications where published.rackID == Int64(rack) {
                        // Announced before it is stored: fetched by its hash, as a rack does,
                        // it comes from the region's memory.
                        let blob = try await api.get("/racks/\(rack)/tables/\(published.sha256)", token: .rack)
                        #expect(blob.status == 200)
                        #expect(hexString(SHA256.hash(blob.bytes)) == published.sha256)
                        let snapshot = try TableSnapshot(blob.bytes)
                        #expect(snapshot.generation == published.generation)
                        if snapshot.reservation(mac: Self.mac) != nil { return true }
                    }
                    return false
                }
                // A guard against hanging forever if the notification never comes; not a timing assertion.
                group.addTask {
                    try await Task.sleep(for: .seconds(60))
                    return false
                }
                let first = try await group.next() ?? false
                group.cancelAll()
                return first
            }
            #expect(found)
        }
    }
}

/// Several region processes on one database: every compiler hears every change, the compiles
/// are serialised, and a change makes one generation however many regions compile it.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct SharedDatabaseTests {
    // A missed announcement would otherwise wait forever and hold the whole run.
    @Test(.timeLimit(.minutes(1))) func twoRegionsAgreeOnEachGeneration() async throws {
        let connectionString = try TestPostgres.migratedDatabase()
        var logger = Logger(label: "shared-test")
        logger.logLevel = .warning
        let metrics = RegionMetrics()
        let first = CompilerService(connectionString: connectionString, debounce: .milliseconds(10), metrics: metrics, logger: logger)
        let second = CompilerService(connectionString: connectionString, debounce: .milliseconds(10), metrics: metrics, logger: logger)
        let heardByFirst = first.publications()
        let heardBySecond = second.publications()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await first.run() }
            group.addTask { try await second.run() }
            let writer = try PostgresConnection(connectionString)
            try writer.query("INSERT INTO rack_controllers (name) VALUES ('rack-a')")
            var firstIterator = heardByFirst.makeAsyncIterator()
            var secondIterator = heardBySecond.makeAsyncIterator()
            let a = await firstIterator.next()
            let b = await secondIterator.next()
            #expect(a != nil)
            #expect(a == b)
            // The compiling region tells its own listeners before the store, the other after
            // it: wait for the store (bounded by the suite's time limit).
            while try writer.query("SELECT tables_generation FROM rack_controllers").scalar != a.map({ String($0.generation) }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            // One change, one generation, whichever region compiled it.
            #expect(try writer.query("SELECT count(*) FROM table_snapshots").scalar == "1")
            #expect(try writer.query("SELECT tables_generation FROM rack_controllers").scalar == a.map { String($0.generation) })
            first.stop()
            second.stop()
            try await group.waitForAll()
        }
    }
}
