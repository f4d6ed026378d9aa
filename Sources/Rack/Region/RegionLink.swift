import Foundation
import LeaseStore
import Synchronization
import Tables
import Wire

/// A connected rack's link to its region (`docs/region.md`, "Racks"): enrol with the shared
/// secret, follow the region's stream of table generations, fetch each snapshot by its SHA-256,
/// verify, persist and swap it in; and report leases back in batches keyed by the lease
/// journal's sequence numbers, so a retry never duplicates and a region outage loses nothing.
///
/// It also keeps the image cache (`ImageCache`) in line with the region's boot files.
///
/// Everything here runs on threads of its own, never on a ring. When the region is away
/// the rack serves its last snapshot and retries with backoff (1 s doubling to 30 s).
public final class RegionLink: @unchecked Sendable {
    let client: RegionHTTPClient
    let secret: String
    let name: String
    let snapshotPath: String
    let stateDirectory: String
    let log: RackLog
    private let stopping = Atomic<Bool>(false)
    /// The rack's id at the region (after enrolment) and the highest lease sequence it holds.
    private let enrolment = Mutex<(id: Int, leasesAcked: UInt64)?>(nil)
    /// The content address of the snapshot in service (nil until one was fetched or opened).
    private let servedDigest = Mutex<String?>(nil)
    /// The lease journal's durable sequence, published by the DHCP ring after each commit.
    let durableSequence: JournalMark
    let connected = Atomic<Bool>(false)
    /// The region's boot files, kept under the state directory and linked into the files root.
    let images: ImageCache
    /// What happened here, for the region's event log.
    let events: RackEventJournal
    /// Power requests from the region, run against the machines' BMCs (RackPower.swift).
    let power: RackPower
    /// Steps of machines' boots, recorded by the services and reported every second.
    public let boots = BootRecorder()
    /// Drained steps the region has not taken yet (the report thread's alone).
    private var unreportedBoots: [BootRecorder.Report] = []
    static let maximumUnreportedBoots = 100_000
    /// How often the boot file list is asked for (it is small; a file appears within this).
    static let imageSyncSeconds: Double = 5

    static let maxBackoff: Double = 30
    /// The region sends a keep-alive at least this often; silence for 3× means a dead link.
    static let keepAliveSeconds = 15

    public init(url: String, secret: String, name: String, stateDirectory: String, filesRoot: String, durableSequence: JournalMark,
                log: RackLog) throws {
        events = RackEventJournal(path: stateDirectory + "/events.jsonl")
        images = ImageCache(cacheDirectory: stateDirectory + "/images", filesRoot: filesRoot, log: log, events: events)
        let client = try RegionHTTPClient(url: url)
        self.client = client
        self.secret = secret
        power = RackPower(client: client, authorization: [("Authorization", "Rack " + secret)], log: log)
        self.name = name
        self.stateDirectory = stateDirectory
        snapshotPath = stateDirectory + "/tables.snapshot"
        self.durableSequence = durableSequence
        self.log = log
    }

    var authorization: [(String, String)] { [("Authorization", "Rack " + secret)] }

    // MARK: Start-up

    /// Puts a staged snapshot in place of the last persisted one; a failure is logged (the
    /// snapshot serves all the same, and a restart fetches it again).
    private func persist(_ temporary: String, generation: UInt64) {
        do {
            try TableFile.persist(temporary, to: snapshotPath)
        } catch {
            log.error("region: generation \(generation) serves but was not persisted: \(error)")
        }
    }

    /// The tables to serve first: the last good snapshot in the state directory if there is one
    /// (the region may be down), else the region's current one, waiting for the region.
    public func initialSnapshot() throws -> TableSnapshot {
        TableFile.removeStaged(for: snapshotPath)
        if let snapshot = try? TableFile.open(snapshotPath) {
            servedDigest.withLock { $0 = hexString(SHA256.hash(Array(snapshot.bytes))) }
            log.info("region: serving the last good tables, generation \(snapshot.generation), until the region answers")
            return snapshot
        }
        var delay: Double = 1
        while !stopping.load(ordering: .relaxed) {
            do {
                let id = try enrol()
                if let announcement = try current(rack: id) {
                    let fetched = try fetch(announcement, rack: id)
                    persist(fetched.temporary, generation: fetched.snapshot.generation)
                    return fetched.snapshot
                }
                log.info("region: no tables compiled for this rack yet; waiting")
            } catch {
                log.error("region: \(error); retrying in \(Int(delay)) s")
            }
            Thread.sleep(forTimeInterval: delay)
            delay = min(delay * 2, Self.maxBackoff)
        }
        throw RegionHTTPClient.Failure(description: "stopped before the region answered")
    }

    /// Follows the region from now on (two threads), installing new generations into `store`.
    public func start(store: TableStore) {
        let tables = Thread { [self] in followTables(store) }
        tables.name = "region-tables"
        tables.start()
        let leases = Thread { [self] in reportLeases() }
        leases.name = "region-leases"
        leases.start()
        let images = Thread { [self] in syncImages() }
        images.name = "region-images"
        images.start()
        // Power requests for the machines this rack serves (RackPower.swift).
        let powerThread = Thread { [self] in
            power.follow(rack: { enrolment.withLock { $0?.id } }, stopping: { stopping.load(ordering: .relaxed) })
        }
        powerThread.name = "region-power"
        powerThread.start()
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }

    // MARK: Enrolment and tables

    struct Enrolled: Decodable {
        let id: Int
        let name: String
        let leases_acked: UInt64?
        let events_acked: UInt64?
    }

    struct Announcement: Decodable, Equatable {
        let generation: UInt64
        let sha256: String
        let size: Int
    }

    /// Registers (or finds) this rack at the region.
    @discardableResult
    func enrol() throws -> Int {
        let body = try JSONEncoder().encode(["name": name])
        let response = try client.request("POST", "/api/v1/rack/enrol", headers: authorization + [("Content-Type", "application/json")],
                                          body: Array(body))
        guard response.status == 200 || response.status == 201 else {
            throw RegionHTTPClient.Failure(description: "enrol: HTTP \(response.status) \(response.text)")
        }
        let enrolled = try JSONDecoder().decode(Enrolled.self, from: Data(response.body))
        enrolment.withLock { $0 = (enrolled.id, enrolled.leases_acked ?? 0) }
        events.adopt(regionAcked: enrolled.events_acked ?? 0)
        return enrolled.id
    }

    /// The generation the region has for this rack now, if any.
    func current(rack: Int) throws -> Announcement? {
        let response = try client.request("GET", "/api/v1/racks/\(rack)/tables", headers: authorization)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw RegionHTTPClient.Failure(description: "tables: HTTP \(response.status) \(response.text)") }
        return try JSONDecoder().decode(Announcement.self, from: Data(response.body))
    }

    /// Downloads a snapshot straight into a file beside the state directory's snapshot,
    /// hashing it as it arrives, checks the SHA-256 (the content address) and the size it was
    /// announced with, and opens (validates) it from there. The caller serves it, then persists
    /// it (`TableFile.persist`) in place of the last one. The snapshot (47 MB at 100k machines)
    /// is never held in memory whole, and its hash costs no pass of its own.
    func fetch(_ announcement: Announcement, rack: Int) throws -> (snapshot: TableSnapshot, temporary: String) {
        let wanted = announcement.sha256.lowercased()
        let staged = try TableFile.stage(for: snapshotPath) { write in
            var hasher = SHA256()
            var received = 0
            // A size of 0 is one the region did not know: a gigabyte then bounds the download.
            let most = announcement.size > 0 ? announcement.size : 1 << 30
            try client.download("/api/v1/racks/\(rack)/tables/\(announcement.sha256)", headers: authorization) { piece in
                received += piece.count
                guard received <= most else {
                    throw RegionHTTPClient.Failure(description: "snapshot \(wanted.prefix(12)): more than the \(most) bytes announced")
                }
                hasher.update(piece)
                try write(piece)
            }
            guard announcement.size <= 0 || received == announcement.size else {
                throw RegionHTTPClient.Failure(description: "snapshot \(wanted.prefix(12)): \(received) bytes, \(announcement.size) announced")
            }
            let digest = hexString(hasher.finish())
            guard digest == wanted else {
                throw RegionHTTPClient.Failure(description: "snapshot digest \(digest) is not the announced \(announcement.sha256)")
            }
        }
        servedDigest.withLock { $0 = wanted }
        return staged
    }

    private func followTables(_ store: TableStore) {
        var delay: Double = 1
        /// When the region was lost (nil while it answers).
        var lostAt: Date?
        while !stopping.load(ordering: .relaxed) {
            do {
                let id = try enrol()
                connected.store(true, ordering: .relaxed)
                // Told again on every connection: the region may have been restored meanwhile.
                var reportedServing: UInt64?
                if let since = lostAt {
                    events.record("region-back", "the region answers again after \(Int(Date().timeIntervalSince(since))) s; serving generation \(store.generation)")
                    lostAt = nil
                }
                delay = 1
                var failure: Error?
                try client.stream("/api/v1/rack/stream?rack=\(id)", headers: authorization, idle: Self.keepAliveSeconds * 3) { line in
                    guard line.hasPrefix("data:") else { return !stopping.load(ordering: .relaxed) }
                    do {
                        let json = line.dropFirst(5).trimmingPrefix(" ")
                        let announcement = try JSONDecoder().decode(Announcement.self, from: Data(json.utf8))
                        if announcement.sha256.lowercased() != servedDigest.withLock({ $0 }) {
                            let started = ContinuousClock.now
                            let (snapshot, temporary) = try fetch(announcement, rack: id)
                            store.install(snapshot)
                            let milliseconds = (ContinuousClock.now - started) / .milliseconds(1)
                            log.info("region: generation \(snapshot.generation) in service (\(announcement.sha256.prefix(12)), \(announcement.size) bytes fetched and checked in \(Int(milliseconds)) ms)")
                            // Made durable after it serves, before it is reported: the report
                            // releases power cycles waiting for these tables, and a rack that
                            // restarted on older ones would boot those machines wrongly.
                            persist(temporary, generation: snapshot.generation)
                            events.record("tables", "generation \(snapshot.generation) in service (\(announcement.size) bytes, sha256 \(announcement.sha256.prefix(12)))")
                        }
                        if reportedServing != store.generation, reportServing(store.generation, rack: id) {
                            reportedServing = store.generation
                        }
                    } catch {
                        failure = error
                        return false
                    }
                    return !stopping.load(ordering: .relaxed)
                }
                if let failure { throw failure }
                if !stopping.load(ordering: .relaxed) { log.info("region: stream closed; reconnecting") }
            } catch {
                connected.store(false, ordering: .relaxed)
                if lostAt == nil {
                    lostAt = Date()
                    events.record("region-lost", "\(error); serving generation \(store.generation) until it returns")
                }
                log.error("region: \(error); serving generation \(store.generation), retrying in \(Int(delay)) s")
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, Self.maxBackoff)
            }
        }
    }


    /// Tells the region which generation is in service here (`POST /api/v1/rack/serving`): a
    /// machine's power cycle waits for it, so the machine boots what its new state renders.
    /// Best effort: false (and a log line) when the region did not take it; the next
    /// announcement tries again, and the region's wait for it is bounded.
    private func reportServing(_ generation: UInt64, rack: Int) -> Bool {
        do {
            let body = try JSONEncoder().encode(["rack": UInt64(rack), "generation": generation])
            let response = try client.request("POST", "/api/v1/rack/serving",
                                              headers: authorization + [("Content-Type", "application/json")], body: Array(body))
            guard response.status == 204 else {
                throw RegionHTTPClient.Failure(description: "serving report: HTTP \(response.status) \(response.text)")
            }
            return true
        } catch {
            log.error("region: \(error)")
            return false
        }
    }

    // MARK: Boot files

    /// Every few seconds: the region's list of boot files, and whatever of it is not cached yet.
    private func syncImages() {
        var delay = Self.imageSyncSeconds
        while !stopping.load(ordering: .relaxed) {
            if enrolment.withLock({ $0 }) != nil {
                do {
                    let response = try client.request("GET", "/api/v1/rack/boot-files", headers: authorization)
                    guard response.status == 200 else {
                        throw RegionHTTPClient.Failure(description: "boot files: HTTP \(response.status) \(response.text)")
                    }
                    let listing = try JSONDecoder().decode(ImageCache.Listing.self, from: Data(response.body))
                    images.sync(listing.files) { entry, sink in
                        try client.download("/api/v1/rack/boot-files/\(entry.sha256)", headers: authorization, sink: sink)
                    }
                    try reportImages()
                    delay = Self.imageSyncSeconds
                } catch {
                    log.error("region: \(error); the image cache keeps what it has, retrying in \(Int(delay)) s")
                    delay = min(delay * 2, Self.maxBackoff)
                }
            }
            // Sleep in short steps so that a stop is not held up.
            var slept = 0.0
            while slept < delay, !stopping.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: 0.25)
                slept += 0.25
            }
        }
    }

    /// The cache's state as last told to the region (told again only when it changes).
    private let reportedImages = Mutex<ImageCache.Status?>(nil)

    private func reportImages() throws {
        guard let rack = enrolment.withLock({ $0?.id }) else { return }
        let status = images.status.withLock { $0 }
        if let last = reportedImages.withLock({ $0 }), last.filesWanted == status.filesWanted,
           last.filesReady == status.filesReady, last.bytesReady == status.bytesReady { return }
        let body = try JSONEncoder().encode(["rack": Int64(rack), "wanted": Int64(status.filesWanted), "ready": Int64(status.filesReady),
                                             "ready_bytes": status.bytesReady])
        let response = try client.request("POST", "/api/v1/rack/images", headers: authorization + [("Content-Type", "application/json")],
                                          body: Array(body))
        guard response.status == 204 else {
            throw RegionHTTPClient.Failure(description: "image report: HTTP \(response.status) \(response.text)")
        }
        reportedImages.withLock { $0 = status }
    }

    // MARK: Leases

    struct LeaseReport: Encodable {
        let sequence: UInt64
        let address: String
        let mac: String
        let hostname: String
        let client_id: String
        let state: String
        let expires_at: UInt64
    }

    struct LeaseBatch: Encodable {
        let rack: Int
        let leases: [LeaseReport]
    }

    struct Acked: Decodable {
        let acked: UInt64
    }

    /// Every second: the journal's current records newer than what the region acknowledged and
    /// already durable here, oldest first, in batches of 1,000. The region keeps the newest state
    /// per address and ignores a sequence it has seen, so resending after a failure is harmless.
    private func reportLeases() {
        var delay: Double = 1
        while !stopping.load(ordering: .relaxed) {
            Thread.sleep(forTimeInterval: delay)
            guard let (rack, acked) = enrolment.withLock({ $0 }) else { continue }
            do {
                try reportEvents(rack: rack)
            } catch {
                log.error("region: \(error); events stay in the journal, retrying")
            }
            let durable = durableSequence.value
            if durable > acked {
                do {
                    let leases = try LeaseJournal.readLeases(directory: stateDirectory).values
                        .filter { $0.sequence > acked && $0.sequence <= durable }
                        .sorted { $0.sequence < $1.sequence }
                    var newest = acked
                    for start in stride(from: 0, to: leases.count, by: 1000) {
                        let batch = leases[start..<min(start + 1000, leases.count)].map(Self.report)
                        let body = try JSONEncoder().encode(LeaseBatch(rack: rack, leases: batch))
                        let response = try client.request("POST", "/api/v1/rack/leases",
                                                          headers: authorization + [("Content-Type", "application/json")], body: Array(body))
                        guard response.status == 200 else {
                            throw RegionHTTPClient.Failure(description: "lease report: HTTP \(response.status) \(response.text)")
                        }
                        newest = max(newest, try JSONDecoder().decode(Acked.self, from: Data(response.body)).acked)
                        enrolment.withLock { $0?.leasesAcked = newest }
                    }
                    // Nothing newer than the durable mark is left: everything up to it is reported.
                    enrolment.withLock { state in
                        if let current = state?.leasesAcked { state?.leasesAcked = max(current, durable) }
                    }
                    delay = 1
                } catch {
                    log.error("region: \(error); leases stay in the journal, retrying in \(Int(delay)) s")
                    delay = min(delay * 2, Self.maxBackoff)
                }
            }
            // After the leases: a step's machine may be found by the lease on its address.
            do {
                try reportBoots(rack: rack)
            } catch {
                log.error("region: \(error); \(unreportedBoots.count) boot steps kept, retrying")
            }
        }
    }

    // MARK: Events

    struct EventBatch: Encodable {
        let rack: Int
        let events: [RackEventJournal.Event]
    }

    /// Sends what the region has not acknowledged, 500 at a time; each (rack, sequence) is
    /// stored once there, so a retry after a lost answer changes nothing.
    func reportEvents(rack: Int) throws {
        while true {
            let batch = events.unacknowledged(limit: 500)
            guard !batch.isEmpty else { return }
            let body = try JSONEncoder().encode(EventBatch(rack: rack, events: batch))
            let response = try client.request("POST", "/api/v1/rack/events",
                                              headers: authorization + [("Content-Type", "application/json")], body: Array(body))
            guard response.status == 200 else {
                throw RegionHTTPClient.Failure(description: "event report: HTTP \(response.status) \(response.text)")
            }
            let acked = try JSONDecoder().decode(Acked.self, from: Data(response.body)).acked
            events.acknowledge(upTo: acked)
            guard acked >= batch.last!.sequence else { return }
        }
    }

    // MARK: Boot steps

    struct BootBatch: Encodable {
        let rack: Int
        let steps: [BootRecorder.Report]
    }

    /// Sends the steps recorded since the last round, 1,000 at a time. A batch the region did
    /// not take is sent again next round (a duplicate step in a history is harmless); past
    /// `maximumUnreportedBoots` the oldest are dropped.
    func reportBoots(rack: Int) throws {
        unreportedBoots += boots.drain()
        if unreportedBoots.count > Self.maximumUnreportedBoots {
            let dropped = unreportedBoots.count - Self.maximumUnreportedBoots
            unreportedBoots.removeFirst(dropped)
            boots.countLost(dropped)
        }
        while !unreportedBoots.isEmpty {
            let batch = Array(unreportedBoots.prefix(1000))
            let body = try JSONEncoder().encode(BootBatch(rack: rack, steps: batch))
            let response = try client.request("POST", "/api/v1/rack/boots",
                                              headers: authorization + [("Content-Type", "application/json")], body: Array(body))
            guard response.status == 204 || response.status == 200 else {
                throw RegionHTTPClient.Failure(description: "boot report: HTTP \(response.status) \(response.text)")
            }
            unreportedBoots.removeFirst(batch.count)
        }
    }

    static func report(_ record: LeaseRecord) -> LeaseReport {
        let address = IPv4Address(record.address).description
        let mac = MACAddress(record.mac).description
        return LeaseReport(sequence: record.sequence, address: address, mac: mac,
                           hostname: String(decoding: record.hostname, as: UTF8.self),
                           client_id: hexString(record.clientID),
                           state: "\(record.state)", expires_at: record.expiresAt)
    }
}

/// The lease journal's durable sequence, shared between the DHCP ring (which stores it after
/// each commit: one atomic store) and the region link (which reports up to it).
public final class JournalMark: Sendable {
    private let mark = Atomic<UInt64>(0)

    public init() {}

    public var value: UInt64 { mark.load(ordering: .acquiring) }

    func publish(_ sequence: UInt64) { mark.store(sequence, ordering: .releasing) }
}
