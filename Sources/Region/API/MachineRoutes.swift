import Hummingbird

/// Machines: CRUD (a create may carry its interfaces), the lifecycle actions, and each
/// machine's interfaces under /machines/{id}/interfaces.
struct MachineRoutes: Sendable {
    let store: RegionStore
    var crud: CRUDRoutes<Resources.MachineInput> { CRUDRoutes(resource: Resources.machines, store: store) }

    func register(on group: RouterGroup<RegionRequestContext>) {
        crud.register(on: group, create: false, list: false)
        group.get("machines") { request, _ in
            let filter = try Self.filter(request)
            return JSONBody.response(status: .ok, json: try await store.machinesJSON(filter))
        }
        group.post("machines") { request, context in
            let input = try await RequestDecoding.decode(Resources.MachineInput.self, from: request, context: context)
            return try await create(input, actor: context.requireIdentity())
        }
        group.post("machines/:id/:action") { _, context in
            let id = try RegionAPI.id(context, "machine")
            let name = context.parameters.get("action") ?? ""
            guard let action = MachineAction(rawValue: name) else {
                throw APIError(.notFound, "no machine action \(name) (commission, deploy, release, mark-broken, mark-fixed, complete)")
            }
            return try await perform(action, machine: id, actor: context.requireIdentity())
        }

        let interfaces = Resources.interfaces
        group.get("machines/:id/interfaces") { _, context in
            let machine = try RegionAPI.id(context, "machine")
            let json = try await store.read { connection -> String? in
                guard try Self.machineExists(machine, on: connection) else { return nil }
                return try connection.query(interfaces.selectAllSQL(filter: "t.machine_id = $1::bigint"), [machine]).scalar
            }
            guard let json else { throw APIError.notFound("machine", machine) }
            return JSONBody.response(status: .ok, json: json)
        }
        group.get("machines/:id/interfaces/:interface") { _, context in
            let (machine, interface) = try Self.interfaceIDs(context)
            let sql = "SELECT row_to_json(x)::text FROM (SELECT \(interfaces.outputColumns) FROM interfaces t WHERE t.id = $1::bigint AND t.machine_id = $2::bigint) x"
            guard let json = try await store.read({ try $0.query(sql, [interface, machine]).scalar }) else {
                throw APIError.notFound("interface", interface)
            }
            return JSONBody.response(status: .ok, json: json)
        }
        group.post("machines/:id/interfaces") { request, context in
            let machine = try RegionAPI.id(context, "machine")
            let input = try await RequestDecoding.decode(Resources.InterfaceInput.self, from: request, context: context)
            let json = try await store.write(actor: context.requireIdentity(), action: "create", objectType: "interface", summary: input.summary) { connection in
                guard try Self.machineExists(machine, on: connection) else { throw APIError.notFound("machine", machine) }
                let id = try connection.query(interfaces.insertSQL(leading: ["machine_id"]), [machine] + input.values).scalar ?? ""
                try Self.touch(machine, on: connection)
                return .init(objectID: id, value: try connection.query(interfaces.selectOneSQL, [id]).scalar ?? "{}")
            }
            return JSONBody.response(status: .created, json: json)
        }
        group.put("machines/:id/interfaces/:interface") { request, context in
            let (machine, interface) = try Self.interfaceIDs(context)
            let input = try await RequestDecoding.decode(Resources.InterfaceInput.self, from: request, context: context)
            let json = try await store.write(actor: context.requireIdentity(), action: "update", objectType: "interface", summary: input.summary) { connection in
                guard try connection.query(interfaces.updateSQL(scope: "machine_id"), [interface, machine] + input.values).rows.count == 1 else {
                    throw APIError.notFound("interface", interface)
                }
                try Self.touch(machine, on: connection)
                return .init(objectID: interface, value: try connection.query(interfaces.selectOneSQL, [interface]).scalar ?? "{}")
            }
            return JSONBody.response(status: .ok, json: json)
        }
        group.delete("machines/:id/interfaces/:interface") { _, context in
            let (machine, interface) = try Self.interfaceIDs(context)
            try await store.write(actor: context.requireIdentity(), action: "delete", objectType: "interface") { connection in
                guard try connection.query(interfaces.deleteSQL(scope: "machine_id"), [interface, machine]).affectedRows == 1 else {
                    throw APIError.notFound("interface", interface)
                }
                try Self.touch(machine, on: connection)
                return .init(objectID: interface, value: ())
            }
            return Response(status: .noContent)
        }
    }

    /// A machine and its interfaces in one transaction: all of them or none.
    func create(_ input: Resources.MachineInput, actor: Identity) async throws -> Response {
        JSONBody.response(status: .created, json: try await store.createMachine(input, actor: actor).json)
    }

    /// Moves the machine along its lifecycle; an action its state does not allow is a 409.
    func perform(_ action: MachineAction, machine: String, actor: Identity) async throws -> Response {
        JSONBody.response(status: .ok, json: try await store.performMachineAction(action, machine: machine, actor: actor))
    }

    /// `?status=ready&q=text`: an unknown status is a 400 that lists the known ones.
    static func filter(_ request: Request) throws -> RegionStore.MachineFilter {
        var filter = RegionStore.MachineFilter()
        if let text = request.uri.queryParameters.get("status"), !text.isEmpty {
            guard let status = MachineStatus(rawValue: text) else {
                let known = MachineStatus.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError(.badRequest, "unknown status \(text) (one of: \(known))")
            }
            filter.status = status
        }
        filter.search = request.uri.queryParameters.get("q")
        return filter
    }

    static func machineExists(_ id: String, on connection: PostgresConnection) throws -> Bool {
        try connection.query("SELECT 1 FROM machines WHERE id = $1::bigint", [id]).rows.count == 1
    }

    static func touch(_ machine: String, on connection: PostgresConnection) throws {
        try connection.query("UPDATE machines SET updated_at = now() WHERE id = $1::bigint", [machine])
    }

    static func interfaceIDs(_ context: RegionRequestContext) throws -> (machine: String, interface: String) {
        let machine = try RegionAPI.id(context, "machine")
        guard let text = context.parameters.get("interface"), let number = Int64(text), number > 0 else {
            throw APIError.notFound("interface", context.parameters.get("interface") ?? "")
        }
        return (machine, String(number))
    }
}
