import Hummingbird

/// The read-only pages: subnets with their utilisation, ranges, leases, racks, DNS, boot
/// resources and the event log.
struct NetworkPages: Sendable {
    let store: RegionStore

    func subnets(_ context: RegionRequestContext) async throws -> Response {
        let subnets = try ViewValues.objects(try await store.subnetsOverviewJSON()).map(Self.withUsage)
        return WebPage.response("subnets", title: "Subnets", section: "subnets",
                                values: ["subnets": subnets, "total": subnets.count], session: context.webSession)
    }

    func subnet(_ context: RegionRequestContext) async throws -> Response {
        let id = try RegionAPI.id(context, "subnet")
        guard let subnet = try ViewValues.objects(try await store.subnetsOverviewJSON(id: id)).first else {
            throw APIError.notFound("subnet", id)
        }
        let leases = try ViewValues.objects(try await store.leasesOverviewJSON(subnet: id)).map(MachinePages.leaseRow)
        return WebPage.response("subnet", title: ViewValues.text(subnet, "cidr") ?? "Subnet", section: "subnets",
                                values: ["subnet": Self.withUsage(subnet), "leases": leases], session: context.webSession)
    }

    /// Adds `usage`: the counts and the bar's geometry (percent of the usable addresses).
    static func withUsage(_ subnet: ViewValues.Object) -> ViewValues.Object {
        var row = subnet
        let ranges = (subnet["ranges"] as? [ViewValues.Object] ?? []).map {
            SubnetUtilisation.Range(type: ViewValues.text($0, "type") ?? "", start: ViewValues.text($0, "start_ip") ?? "", end: ViewValues.text($0, "end_ip") ?? "")
        }
        let statics = (subnet["statics"] as? [ViewValues.Object] ?? []).compactMap { ViewValues.text($0, "ip") }
        guard let usage = SubnetUtilisation(cidr: ViewValues.text(subnet, "cidr") ?? "", ranges: ranges, staticAddresses: statics) else {
            return row
        }
        let dynamic = usage.percent(usage.dynamic), reserved = usage.percent(usage.reserved), staticShare = usage.percent(usage.statics)
        func width(_ value: Double) -> String { String(format: "%.2f", value) }
        row["usage"] = [
            "usable": String(usage.usable), "dynamic": String(usage.dynamic), "reserved": String(usage.reserved),
            "statics": String(usage.statics), "free": String(usage.free),
            "dynamicWidth": width(dynamic), "reservedX": width(dynamic), "reservedWidth": width(reserved),
            "staticX": width(dynamic + reserved), "staticWidth": width(staticShare),
            "summary": "dynamic \(usage.dynamic), reserved \(usage.reserved), static \(usage.statics), free \(usage.free) of \(usage.usable)",
        ] as [String: String]
        return row
    }

    func ranges(_ context: RegionRequestContext) async throws -> Response {
        let ranges = try ViewValues.objects(try await store.rangesOverviewJSON())
        return WebPage.response("ranges", title: "IP ranges", section: "ranges",
                                values: ["ranges": ranges, "total": ranges.count], session: context.webSession)
    }

    func leases(_ context: RegionRequestContext) async throws -> Response {
        let leases = try ViewValues.objects(try await store.leasesOverviewJSON()).map(MachinePages.leaseRow)
        return WebPage.response("leases", title: "Leases", section: "leases",
                                values: ["leases": leases, "total": leases.count], session: context.webSession)
    }

    /// A rack is healthy when it spoke to a region within this many seconds: a connected rack's
    /// stream has a keepalive every 15 s.
    static let healthySeconds = 60

    func racks(_ context: RegionRequestContext) async throws -> Response {
        let racks = try ViewValues.objects(try await store.racksOverviewJSON()).map { rack -> ViewValues.Object in
            var row = rack
            if let age = rack["contact_age_seconds"] as? Int {
                row["health"] = age <= Self.healthySeconds ? "ok" : "stale"
                row["contact"] = ViewValues.age(seconds: age)
            } else {
                row["health"] = "never"
                row["contact"] = "never"
            }
            row["shortSHA"] = ViewValues.text(rack, "tables_sha256").map { String($0.prefix(12)) + "…" } ?? ""
            row["tablesSize"] = (rack["tables_size"] as? Int).map(ViewValues.byteSize) ?? ""
            row["compiled"] = ViewValues.text(rack, "tables_compiled_at").map(ViewValues.displayTime) ?? ""
            if let wanted = rack["image_files_wanted"] as? Int, let ready = rack["image_files_ready"] as? Int {
                row["images"] = "\(ready) of \(wanted) files"
                row["imagesComplete"] = ready == wanted
                row["imagesSize"] = (rack["image_bytes_ready"] as? Int).map(ViewValues.byteSize) ?? ""
            }
            return row
        }
        return WebPage.response("racks", title: "Racks", section: "racks", values: ["racks": racks, "total": racks.count], session: context.webSession)
    }

    func dns(_ context: RegionRequestContext) async throws -> Response {
        let overview = try await store.dnsOverviewJSON()
        let records = try ViewValues.objects(overview.records)
        return WebPage.response("dns", title: "DNS", section: "dns",
                                values: ["domains": try ViewValues.objects(overview.domains), "records": records, "recordCount": records.count],
                                session: context.webSession)
    }

    func bootResources(_ context: RegionRequestContext) async throws -> Response {
        let resources = try ViewValues.objects(try await store.listJSON(Resources.bootResources)).map { resource -> ViewValues.Object in
            var row = resource
            var files: [[String: Any]] = []
            for kind in ["kernel", "initrd", "rootfs"] {
                guard let file = ViewValues.text(resource, "\(kind)_file") else { continue }
                let bytes = resource["\(kind)_size"] as? Int ?? 0
                files.append(["kind": kind, "file": file, "bytes": bytes, "size": ViewValues.byteSize(bytes),
                              "sha256": ViewValues.text(resource, "\(kind)_sha256") ?? "", "first": files.isEmpty])
            }
            row["files"] = files
            row["fileCount"] = files.count
            return row
        }
        return WebPage.response("boot_resources", title: "Boot resources", section: "boot-resources",
                                values: ["resources": resources, "total": resources.count], session: context.webSession)
    }

    static let eventLimits = [50, 100, 500, 1000]

    func events(_ request: Request, _ context: RegionRequestContext) async throws -> Response {
        let limit = try AccessRoutes.limit(request)
        let events = try ViewValues.objects(try await store.eventsJSON(.init(limit: limit))).map { event -> ViewValues.Object in
            var row = MachinePages.eventRow(event)
            let id = ViewValues.text(event, "object_id")
            switch (ViewValues.text(event, "object_type"), id) {
            case ("machine", let id?): row["link"] = "/ui/machines/\(id)"
            case ("subnet", let id?): row["link"] = "/ui/subnets/\(id)"
            default: row["link"] = Absent()
            }
            return row
        }
        let limits = Self.eventLimits.map { ["value": $0, "selected": $0 == limit] as [String: Any] }
        return WebPage.response("events", title: "Event log", section: "events",
                                values: ["events": events, "limits": limits], session: context.webSession)
    }
}
