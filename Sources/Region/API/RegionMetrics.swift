import Synchronization

/// The region's counters, rendered in the Prometheus text format at /metrics.
public final class RegionMetrics: Sendable {
    private struct Counters {
        var requests: [RequestKey: Int] = [:]
        var compiles = 0
        var compileFailures = 0
        var generationsPublished = 0
        var lastGeneration: UInt64 = 0
        var lastCompile = TablesCompiler.Timings()
        /// The last pass that published a generation (a pass that found nothing changed is quick).
        var lastPublishingCompile = TablesCompiler.Timings()
        var compileSeconds = 0.0
        var snapshotStores = 0
        var snapshotStoreFailures = 0
        var lastStoreSeconds = 0.0
        var proxyUp = false
        var proxyRestarts = 0
        var proxyReconfigures = 0
    }

    private struct RequestKey: Hashable, Comparable {
        var method: String
        var status: Int
        static func < (lhs: RequestKey, rhs: RequestKey) -> Bool { (lhs.method, lhs.status) < (rhs.method, rhs.status) }
    }

    private let counters = Mutex(Counters())

    public init() {}

    func countRequest(method: String, status: Int) {
        counters.withLock { $0.requests[RequestKey(method: method, status: status), default: 0] += 1 }
    }

    func countCompile(published: [UInt64], failed: Bool, timings: TablesCompiler.Timings? = nil) {
        counters.withLock { counters in
            counters.compiles += 1
            if let timings {
                counters.lastCompile = timings
                if !published.isEmpty { counters.lastPublishingCompile = timings }
                counters.compileSeconds += timings.total.seconds
            }
            if failed { counters.compileFailures += 1 }
            counters.generationsPublished += published.count
            counters.lastGeneration = max(counters.lastGeneration, published.max() ?? 0)
        }
    }

    /// A snapshot stored beside the compiler (`SnapshotStorer`), or not.
    func countStore(seconds: Double, failed: Bool) {
        counters.withLock { counters in
            counters.snapshotStores += 1
            if failed { counters.snapshotStoreFailures += 1 } else { counters.lastStoreSeconds = seconds }
        }
    }

    func setProxy(up: Bool) { counters.withLock { $0.proxyUp = up } }
    func countProxyRestart() { counters.withLock { $0.proxyRestarts += 1 } }
    func countProxyReconfigure() { counters.withLock { $0.proxyReconfigures += 1 } }

    /// A gauge of a pass's phases, one line each.
    private static func phases(_ name: String, _ help: String, _ timings: TablesCompiler.Timings) -> String {
        var lines = ["# HELP \(name) \(help)", "# TYPE \(name) gauge"]
        for (phase, duration) in [("model", timings.model), ("fingerprint", timings.fingerprint), ("build", timings.build),
                                  ("check", timings.check), ("store", timings.store), ("total", timings.total)] {
            lines.append("\(name){phase=\"\(phase)\"} \(duration.seconds)")
        }
        return lines.joined(separator: "\n")
    }

    func render(openConnections: Int) -> String {
        let snapshot = counters.withLock { $0 }
        var text = """
            # HELP rackplane_region_http_requests_total API requests answered, by method and status.
            # TYPE rackplane_region_http_requests_total counter

            """
        for (key, count) in snapshot.requests.sorted(by: { $0.key < $1.key }) {
            text += "rackplane_region_http_requests_total{method=\"\(key.method)\",status=\"\(key.status)\"} \(count)\n"
        }
        text += """
            # HELP rackplane_region_compiles_total Table compile passes (each covers every rack).
            # TYPE rackplane_region_compiles_total counter
            rackplane_region_compiles_total \(snapshot.compiles)
            # HELP rackplane_region_compile_failures_total Compile passes that failed.
            # TYPE rackplane_region_compile_failures_total counter
            rackplane_region_compile_failures_total \(snapshot.compileFailures)
            # HELP rackplane_region_generations_published_total New rack table generations this process published.
            # TYPE rackplane_region_generations_published_total counter
            rackplane_region_generations_published_total \(snapshot.generationsPublished)
            # HELP rackplane_region_tables_generation Highest table generation this process published.
            # TYPE rackplane_region_tables_generation gauge
            rackplane_region_tables_generation \(snapshot.lastGeneration)
            # HELP rackplane_region_compile_seconds_total Time spent in compile passes.
            # TYPE rackplane_region_compile_seconds_total counter
            rackplane_region_compile_seconds_total \(snapshot.compileSeconds)
            \(Self.phases("rackplane_region_last_compile_seconds",
                          "The last compile pass, by phase (model read, fingerprint, build, check, store: the wait for the snapshot store before it).", snapshot.lastCompile))
            \(Self.phases("rackplane_region_last_publishing_compile_seconds",
                          "The last compile pass that published new tables, by phase.", snapshot.lastPublishingCompile))
            # HELP rackplane_region_snapshot_stores_total Snapshots stored in PostgreSQL beside the compiler, failed ones included.
            # TYPE rackplane_region_snapshot_stores_total counter
            rackplane_region_snapshot_stores_total \(snapshot.snapshotStores)
            # HELP rackplane_region_snapshot_store_failures_total Snapshot stores that failed (the next pass compiles again).
            # TYPE rackplane_region_snapshot_store_failures_total counter
            rackplane_region_snapshot_store_failures_total \(snapshot.snapshotStoreFailures)
            # HELP rackplane_region_last_snapshot_store_seconds How long the last snapshot that was stored took.
            # TYPE rackplane_region_last_snapshot_store_seconds gauge
            rackplane_region_last_snapshot_store_seconds \(snapshot.lastStoreSeconds)
            # HELP rackplane_region_db_connections Open PostgreSQL connections in the pool.
            # TYPE rackplane_region_db_connections gauge
            rackplane_region_db_connections \(openConnections)
            # HELP rackplane_region_proxy_up Whether the caching proxy (squid) is running.
            # TYPE rackplane_region_proxy_up gauge
            rackplane_region_proxy_up \(snapshot.proxyUp ? 1 : 0)
            # HELP rackplane_region_proxy_restarts_total Times squid exited unexpectedly and was restarted.
            # TYPE rackplane_region_proxy_restarts_total counter
            rackplane_region_proxy_restarts_total \(snapshot.proxyRestarts)
            # HELP rackplane_region_proxy_reconfigures_total Times squid was reconfigured for a new set of managed subnets.
            # TYPE rackplane_region_proxy_reconfigures_total counter
            rackplane_region_proxy_reconfigures_total \(snapshot.proxyReconfigures)

            """
        return text
    }
}

extension Duration {
    /// The duration in seconds, for metrics and logs.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
