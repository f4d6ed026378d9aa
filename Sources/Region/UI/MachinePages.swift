import Hummingbird

/// The machines list (filter, search, bulk actions), a machine's page (interfaces, leases,
/// events, actions) and the form that creates one. Writes go through the same store functions
/// as the API: one transaction, one event, one lifecycle.
struct MachinePages: Sendable {
    let store: RegionStore

    /// The actions the list applies to every selected machine.
    static let bulkActions: [MachineAction] = [.commission, .deploy, .release]

    static let architectures = ["amd64", "arm64", "i386", "armhf", "ppc64el", "s390x", "riscv64"]
    static let powerTypes = ["manual", "ipmi", "redfish", "webhook"]

    func list(_ request: Request, _ context: RegionRequestContext) async throws -> Response {
        let session = context.webSession
        let filter = try MachineRoutes.filter(request)
        let machines = try ViewValues.objects(try await store.machinesJSON(filter))
        let macs = machines.flatMap { ($0["interfaces"] as? [ViewValues.Object] ?? []).compactMap { ViewValues.text($0, "mac") } }
        let leases = try ViewValues.objects(try await store.leasesJSON(macs: macs))
        let counts = try await store.machineStatusCounts()
        let rows = machines.map { machine -> ViewValues.Object in
            var row = machine
            row["addresses"] = Self.addresses(of: machine, leases: leases)
            return row
        }
        let search = filter.search ?? ""
        let values: [String: Any] = [
            "machines": rows,
            "total": rows.count,
            "search": search,
            "filtered": filter.status != nil || !search.isEmpty,
            "statuses": MachineStatus.allCases.map { status -> [String: Any] in
                ["value": status.rawValue, "count": counts[status.rawValue] ?? 0, "selected": status == filter.status]
            },
            "statusFilter": filter.status?.rawValue ?? "",
        ]
        return WebPage.response("machines", title: "Machines", section: "machines", values: values, session: session)
    }

    /// Each interface's static address, else the live leases its MAC holds.
    static func addresses(of machine: ViewValues.Object, leases: [ViewValues.Object]) -> [[String: String]] {
        var result: [[String: String]] = []
        for interface in machine["interfaces"] as? [ViewValues.Object] ?? [] {
            if let ip = ViewValues.text(interface, "ip") {
                result.append(["address": ip, "source": "static"])
            } else if let mac = ViewValues.text(interface, "mac") {
                for lease in leases where ViewValues.text(lease, "mac") == mac {
                    if let ip = ViewValues.text(lease, "ip") { result.append(["address": ip, "source": "lease"]) }
                }
            }
        }
        return result
    }

    func show(_ context: RegionRequestContext, error: APIError? = nil) async throws -> Response {
        let id = try RegionAPI.id(context, "machine")
        guard let json = try await store.objectJSON(Resources.machines, id: id) else { throw APIError.notFound("machine", id) }
        let machine = try ViewValues.object(json)
        let status = ViewValues.text(machine, "status").flatMap(MachineStatus.init(rawValue:))
        let subnets = try ViewValues.objects(try await store.formChoicesJSON().subnets)
        let cidrs = Dictionary(subnets.compactMap { subnet in ViewValues.text(subnet, "id").map { ($0, ViewValues.text(subnet, "cidr") ?? "") } }, uniquingKeysWith: { a, _ in a })
        let interfaces = (machine["interfaces"] as? [ViewValues.Object] ?? []).map { interface -> ViewValues.Object in
            var row = interface
            row["cidr"] = ViewValues.text(interface, "subnet_id").flatMap { cidrs[$0] } ?? Absent()
            return row
        }
        let macs = interfaces.compactMap { ViewValues.text($0, "mac") }
        let leases = try ViewValues.objects(try await store.leasesOverviewJSON(macs: macs)).map(Self.leaseRow)
        let events = try ViewValues.objects(try await store.eventsJSON(.init(limit: 50, machineID: id))).map(Self.eventRow)
        let steps = try ViewValues.objects(try await store.bootStepsJSON(machineID: id, limit: 200) ?? "[]")
        var values: [String: Any] = [
            "machine": machine,
            "interfaces": interfaces,
            "leases": leases,
            "events": events,
            "boots": BootHistoryView.boots(steps),
            "created": ViewValues.text(machine, "created_at").map(ViewValues.displayTime) ?? "",
            "updated": ViewValues.text(machine, "updated_at").map(ViewValues.displayTime) ?? "",
            "actions": MachineAction.allCases.filter { action in status.flatMap { action.next(from: $0) } != nil }.map(Self.actionButton),
            "error": error?.message ?? Absent(),
        ]
        if let parameters = machine["power_parameters"] as? ViewValues.Object, !parameters.isEmpty {
            values["powerParameters"] = try await store.read { try $0.query("SELECT power_parameters::text FROM machines WHERE id = $1::bigint", [id]).scalar } ?? ""
        }
        let hostname = ViewValues.text(machine, "hostname") ?? id
        return WebPage.response("machine", title: hostname, section: "machines", values: values, session: context.webSession,
                                status: error?.status ?? .ok)
    }

    static func actionButton(_ action: MachineAction) -> [String: Any] {
        let label = switch action {
        case .commission: "Commission"
        case .deploy: "Deploy"
        case .release: "Release"
        case .markBroken: "Mark broken"
        case .markFixed: "Mark fixed"
        case .complete: "Step complete"
        }
        let confirm = switch action {
        case .release: "Release this machine? It stops being deployed."
        case .markBroken: "Mark this machine broken?"
        default: ""
        }
        return ["name": action.rawValue, "label": label, "confirm": confirm]
    }

    /// One action from the machine's page; a refusal (409) shows on the same page.
    func act(_ context: RegionRequestContext) async throws -> Response {
        let id = try RegionAPI.id(context, "machine")
        let (session, form) = try Self.sessionAndForm(context)
        let name = form["action"] ?? ""
        guard let action = MachineAction(rawValue: name) else { throw APIError(.badRequest, "no machine action \(name)") }
        do {
            let json = try await store.performMachineAction(action, machine: id, actor: session.identity)
            let machine = try ViewValues.object(json)
            try await store.setFlash("\(action.rawValue): \(ViewValues.text(machine, "hostname") ?? id) is now \(ViewValues.text(machine, "status") ?? "?")", session: session)
            return WebPage.redirect(to: "/ui/machines/\(id)")
        } catch let error as APIError where error.status == .conflict {
            return try await show(context, error: error)
        }
    }

    /// The list's bulk action: each selected machine on its own (one refusal does not stop the
    /// others); the outcome is the next page's message.
    func bulk(_ context: RegionRequestContext) async throws -> Response {
        let (session, form) = try Self.sessionAndForm(context)
        let name = form["action"] ?? ""
        guard let action = MachineAction(rawValue: name), Self.bulkActions.contains(action) else {
            throw APIError(.badRequest, "no bulk action \(name) (commission, deploy, release)")
        }
        let ids = form.all("id").compactMap { Int64($0) }.filter { $0 > 0 }.map(String.init)
        var back = "/ui/machines"
        var query: [String] = []
        if let search = form.text("q") { query.append("q=" + Self.percentEncode(search)) }
        if let status = form.text("status") { query.append("status=" + Self.percentEncode(status)) }
        if !query.isEmpty { back += "?" + query.joined(separator: "&") }
        guard !ids.isEmpty else {
            try await store.setFlash("Select at least one machine.", session: session)
            return WebPage.redirect(to: back)
        }
        let names = try await store.machineHostnames(ids: ids)
        var done: [String] = []
        var refused: [String] = []
        for id in ids {
            let hostname = names[id] ?? "machine \(id)"
            do {
                _ = try await store.performMachineAction(action, machine: id, actor: session.identity)
                done.append(hostname)
            } catch let error as APIError where error.status == .conflict || error.status == .notFound {
                refused.append("\(hostname): \(error.message)")
            }
        }
        var message = "\(action.rawValue): \(done.count) of \(ids.count) machines"
        if !done.isEmpty { message += " (\(done.joined(separator: ", ")))" }
        if !refused.isEmpty { message += "; refused: " + refused.joined(separator: "; ") }
        try await store.setFlash(message, session: session)
        return WebPage.redirect(to: back)
    }

    func newForm(_ context: RegionRequestContext, fields: FormBody = FormBody(""), error: APIError? = nil) async throws -> Response {
        let choices = try await store.formChoicesJSON()
        let chosenDomain = fields["domain_id"]
        let domains = try ViewValues.objects(choices.domains).map { domain -> ViewValues.Object in
            var row = domain
            let id = ViewValues.text(domain, "id")
            row["selected"] = chosenDomain.map { $0 == id } ?? (domain["is_default"] as? Bool == true)
            return row
        }
        let subnets = try ViewValues.objects(choices.subnets).map { subnet -> ViewValues.Object in
            var row = subnet
            row["selected"] = fields["subnet_id"] != nil && fields["subnet_id"] == ViewValues.text(subnet, "id")
            return row
        }
        let architecture = fields["architecture"] ?? "amd64"
        let powerType = fields["power_type"] ?? "manual"
        let values: [String: Any] = [
            "form": ["hostname": fields["hostname"] ?? "", "mac": fields["mac"] ?? "", "ip": fields["ip"] ?? ""],
            "domains": domains,
            "subnets": subnets,
            "architectures": Self.architectures.map { ["name": $0, "selected": $0 == architecture] as [String: Any] },
            "powerTypes": Self.powerTypes.map { ["name": $0, "selected": $0 == powerType] as [String: Any] },
            "error": error?.message ?? Absent(),
        ]
        return WebPage.response("machine_new", title: "Add a machine", section: "machines", values: values,
                                session: context.webSession, status: error?.status ?? .ok)
    }

    /// Creates the machine (and its boot interface, in the same transaction) as `POST
    /// /api/v1/machines` does; a refusal shows on the form with what was typed.
    func create(_ context: RegionRequestContext) async throws -> Response {
        let (session, form) = try Self.sessionAndForm(context)
        do {
            let input = try Self.machineInput(form)
            let created = try await store.createMachine(input, actor: session.identity)
            try await store.setFlash("created \(input.hostname)", session: session)
            return WebPage.redirect(to: "/ui/machines/\(created.id)")
        } catch {
            let failure = WebMiddleware.apiError(error, deleting: false, path: "/ui/machines", logger: context.logger)
            guard failure.status.code < 500 else { throw error }
            return try await newForm(context, fields: form, error: failure)
        }
    }

    /// The form's fields as the API's machine body.
    static func machineInput(_ form: FormBody) throws -> Resources.MachineInput {
        guard let hostname = form.text("hostname") else { throw APIError(.badRequest, "a hostname is required") }
        func id(_ field: String) throws -> Int64? {
            guard let text = form.text(field) else { return nil }
            guard let value = Int64(text), value > 0 else { throw APIError(.badRequest, "\(field) must be an id") }
            return value
        }
        var interfaces: [Resources.InterfaceInput] = []
        if let mac = form.text("mac") {
            interfaces.append(Resources.InterfaceInput(name: nil, mac: mac, subnetId: try id("subnet_id"), mode: nil, ip: form.text("ip")))
        } else if form.text("ip") != nil {
            throw APIError(.badRequest, "a static address needs the interface's MAC")
        }
        return Resources.MachineInput(
            hostname: hostname, domainId: try id("domain_id"), architecture: form.text("architecture"),
            powerType: form.text("power_type"), powerParameters: nil, interfaces: interfaces)
    }

    static func sessionAndForm(_ context: RegionRequestContext) throws -> (WebSession, FormBody) {
        guard let session = context.webSession, let form = context.form else { throw APIError(.unauthorized, "log in first") }
        return (session, form)
    }

    static func leaseRow(_ lease: ViewValues.Object) -> ViewValues.Object {
        var row = lease
        row["expires"] = ViewValues.text(lease, "expires_at").map(ViewValues.displayTime) ?? ""
        return row
    }

    static func eventRow(_ event: ViewValues.Object) -> ViewValues.Object {
        var row = event
        row["when"] = ViewValues.text(event, "at").map(ViewValues.displayTime) ?? ""
        return row
    }

    /// For a query string value: everything but unreserved characters escaped.
    static func percentEncode(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.append(Character(UnicodeScalar(byte)))
            default:
                encoded += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return encoded
    }
}
