/// Machines as the API and the web UI both see them: one set of queries and one way through the
/// lifecycle, whoever asks.
extension RegionStore {
    /// Which machines a list shows: by status, and by a search over hostname, system id, MACs
    /// and addresses (case-insensitive, a substring).
    public struct MachineFilter: Sendable, Hashable {
        public var status: MachineStatus?
        public var search: String?

        public init(status: MachineStatus? = nil, search: String? = nil) {
            self.status = status
            self.search = search
        }

        /// The condition over machines `t`, with `$1` the status and `$2` the search.
        static let condition = """
            ($1::text IS NULL OR t.status = $1)
            AND ($2::text IS NULL OR t.hostname ILIKE $2 OR t.system_id ILIKE $2 OR EXISTS (
                SELECT 1 FROM interfaces n WHERE n.machine_id = t.id AND (n.mac::text ILIKE $2 OR host(n.ip) ILIKE $2)))
            """

        var parameters: [String?] {
            let text = search?.trimmingWhitespace ?? ""
            return [status?.rawValue, text.isEmpty ? nil : "%" + Self.escapeLike(text) + "%"]
        }

        /// `%`, `_` and `\` match themselves: the search is a plain substring.
        static func escapeLike(_ text: String) -> String {
            var escaped = ""
            for character in text {
                if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
                escaped.append(character)
            }
            return escaped
        }
    }

    /// Machines as a JSON array (the API's representation), by id.
    public func machinesJSON(_ filter: MachineFilter = MachineFilter()) async throws -> String {
        let sql = Resources.machines.selectAllSQL(filter: MachineFilter.condition)
        let parameters = filter.parameters
        return try await read { try $0.query(sql, parameters).scalar ?? "[]" }
    }

    /// A created machine: its id and its JSON.
    public struct CreatedMachine: Sendable {
        public var id: String
        public var json: String
    }

    /// A machine and its interfaces in one transaction: all of them or none.
    func createMachine(_ input: Resources.MachineInput, actor: Identity, action: String = "create") async throws -> CreatedMachine {
        let machines = Resources.machines
        let interfaces = Resources.interfaces
        let vault = powerVault
        return try await write(actor: actor, action: action, objectType: "machine", summary: input.summary) { connection in
            let values = try input.values(sealing: vault, updating: nil, on: connection)
            let id = try connection.query(machines.insertSQL(), values).scalar ?? ""
            for interface in input.interfaces ?? [] {
                try connection.query(interfaces.insertSQL(leading: ["machine_id"]), [id] + interface.values)
            }
            let json = try connection.query(machines.selectOneSQL, [id]).scalar ?? "{}"
            return .init(objectID: id, value: CreatedMachine(id: id, json: json))
        }
    }

    /// Moves the machine along its lifecycle (`MachineAction.next`) and returns its JSON; an
    /// action its state does not allow is a 409 that names the states it is allowed from.
    public func performMachineAction(_ action: MachineAction, machine: String, actor: Identity) async throws -> String {
        let machines = Resources.machines
        let tokens = BootTokenKey(vault: powerVault)
        let timeout = lifecycleTimeoutSeconds
        return try await write(actor: actor, action: action.rawValue, objectType: "machine") { connection in
            // FOR UPDATE: two actions on one machine at once are applied one after the other.
            guard let current = try connection.query("SELECT status FROM machines WHERE id = $1::bigint FOR UPDATE", [machine]).scalar else {
                throw APIError.notFound("machine", machine)
            }
            guard let status = MachineStatus(rawValue: current), let next = action.next(from: status) else {
                let allowed = action.allowedFrom.map(\.rawValue).joined(separator: ", ")
                throw APIError(.conflict, "cannot \(action.rawValue) a machine that is \(current) (allowed from: \(allowed))")
            }
            try connection.query("""
                UPDATE machines SET status = $2, boot_purpose = $3, status_message = '', status_changed_at = now(), updated_at = now()
                WHERE id = $1::bigint
                """, [machine, next.rawValue, next.bootPurpose])
            if action.startsReportingBoot {
                // The boot reports with a token of its own; the machine is power-cycled into it.
                try Lifecycle.mintBootToken(machine: machine, purpose: next.bootPurpose, timeoutSeconds: timeout, key: tokens, on: connection)
                try Lifecycle.queuePowerCycle(machine: machine, actor: actor, on: connection)
            } else if action == .release {
                try Lifecycle.queuePowerOff(machine: machine, actor: actor, on: connection)
            }
            return .init(objectID: machine, value: try connection.query(machines.selectOneSQL, [machine]).scalar ?? "{}")
        }
    }
}

extension String {
    var trimmingWhitespace: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        return String(text)
    }
}
