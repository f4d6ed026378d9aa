import Hummingbird

/// list, get, create, update (PUT) and delete for one `Resource`.
struct CRUDRoutes<Input: ResourceInput>: Sendable {
    let resource: Resource
    let store: RegionStore

    func register(on group: RouterGroup<RegionRequestContext>, create: Bool = true, list: Bool = true) {
        if list {
            group.get(RouterPath(resource.path)) { _, _ in try await self.list() }
        }
        group.get(RouterPath(resource.path + "/:id")) { _, context in try await get(RegionAPI.id(context, resource.objectType)) }
        if create {
            group.post(RouterPath(resource.path)) { request, context in
                let input = try await RequestDecoding.decode(Input.self, from: request, context: context)
                return try await self.create(input, actor: context.requireIdentity())
            }
        }
        group.put(RouterPath(resource.path + "/:id")) { request, context in
            let id = try RegionAPI.id(context, resource.objectType)
            let input = try await RequestDecoding.decode(Input.self, from: request, context: context)
            return try await update(id, input, actor: context.requireIdentity())
        }
        group.delete(RouterPath(resource.path + "/:id")) { _, context in
            try await delete(RegionAPI.id(context, resource.objectType), actor: context.requireIdentity())
        }
    }

    func list() async throws -> Response {
        JSONBody.response(status: .ok, json: try await store.listJSON(resource))
    }

    func get(_ id: String) async throws -> Response {
        guard let json = try await store.objectJSON(resource, id: id) else {
            throw APIError.notFound(resource.objectType, id)
        }
        return JSONBody.response(status: .ok, json: json)
    }

    func create(_ input: Input, actor: Identity) async throws -> Response {
        let resource = self.resource
        let vault = store.powerVault
        let json = try await store.write(actor: actor, action: "create", objectType: resource.objectType, summary: input.summary) { connection in
            let values = try input.values(sealing: vault, updating: nil, on: connection)
            let id = try connection.query(resource.insertSQL(), values).scalar ?? ""
            let json = try connection.query(resource.selectOneSQL, [id]).scalar ?? "{}"
            return .init(objectID: id, value: json)
        }
        return created(json)
    }

    func update(_ id: String, _ input: Input, actor: Identity) async throws -> Response {
        let resource = self.resource
        let vault = store.powerVault
        let json = try await store.write(actor: actor, action: "update", objectType: resource.objectType, summary: input.summary) { connection in
            let values = try input.values(sealing: vault, updating: id, on: connection)
            guard try connection.query(resource.updateSQL(), [id] + values).rows.count == 1 else {
                throw APIError.notFound(resource.objectType, id)
            }
            return .init(objectID: id, value: try connection.query(resource.selectOneSQL, [id]).scalar ?? "{}")
        }
        return JSONBody.response(status: .ok, json: json)
    }

    func delete(_ id: String, actor: Identity) async throws -> Response {
        let resource = self.resource
        try await store.write(actor: actor, action: "delete", objectType: resource.objectType) { connection in
            guard try connection.query(resource.deleteSQL(), [id]).affectedRows == 1 else {
                throw APIError.notFound(resource.objectType, id)
            }
            return .init(objectID: id, value: ())
        }
        return Response(status: .noContent)
    }

    func created(_ json: String) -> Response {
        JSONBody.response(status: .created, json: json)
    }
}
