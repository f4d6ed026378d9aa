import Foundation
import Hummingbird
import Tables
import Wire

/// Boot resource files: uploaded by an operator against the size and SHA-256 the boot resource
/// declares, stored in the database in chunks, and fetched by racks into their image caches
/// (docs/rack-region-protocol.md, "Boot files").
///
/// - `PUT /boot-resources/{id}/files/{kind}` (kind: kernel, initrd, rootfs): the raw bytes as
///   the body, streamed to the database; 422 if they are not the declared size and SHA-256.
/// - `GET /boot-resources/{id}/files/{kind}`: the file.
/// - `GET /rack/boot-files`: what a rack should hold, `{"files": [{"path", "sha256", "size"}]}`.
/// - `GET /rack/boot-files/{sha256}`: one file, by content address.
struct BootFileRoutes: Sendable {
    let store: RegionStore

    /// Chunk size in the database: large enough that a 1 GiB root file system is 256 rows,
    /// small enough that a chunk is one ordinary allocation on either side.
    static let chunkSize = 4 << 20
    static let kinds = ["kernel", "initrd", "rootfs"]

    func register(on group: RouterGroup<RegionRequestContext>) {
        group.put("boot-resources/:id/files/:kind") { request, context in
            let (resource, kind) = try Self.target(context)
            return try await upload(resource: resource, kind: kind, request: request, actor: context.requireIdentity())
        }
        group.get("boot-resources/:id/files/:kind") { _, context in
            let (resource, kind) = try Self.target(context)
            let declared = try await declaredFile(resource: resource, kind: kind)
            return try await download(sha256: declared.sha256)
        }
        group.get("rack/boot-files") { _, _ in
            let json = try await store.read { connection in
                try connection.query("""
                    SELECT json_build_object('files', coalesce(json_agg(x ORDER BY x.path), '[]'))::text FROM (
                        SELECT DISTINCT ON (path) path, sha256, size FROM (
                            SELECT r.name || '/' || r.architecture || '/' || f.name AS path, f.sha256, b.size
                            FROM boot_resources r
                            CROSS JOIN LATERAL (VALUES (r.kernel_file, r.kernel_sha256), (r.initrd_file, r.initrd_sha256),
                                                       (r.rootfs_file, r.rootfs_sha256)) AS f(name, sha256)
                            JOIN boot_files b ON b.sha256 = f.sha256
                            WHERE f.name IS NOT NULL) files
                        ORDER BY path, sha256) x
                    """).scalar ?? #"{"files":[]}"#
            }
            return JSONBody.response(status: .ok, json: json)
        }
        group.get("rack/boot-files/:sha256") { _, context in
            let digest = context.parameters.get("sha256") ?? ""
            guard Self.isDigest(digest) else { throw APIError(.notFound, "no boot file \(digest): files are named by their SHA-256 in lower-case hex") }
            return try await download(sha256: digest)
        }
    }

    /// Where a rack serves a boot resource's file, under its files root: "name/architecture/file".
    static let pathDescription = "name/architecture/file"

    static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func target(_ context: RegionRequestContext) throws -> (resource: String, kind: String) {
        let resource = try RegionAPI.id(context, "boot_resource")
        let kind = context.parameters.get("kind") ?? ""
        guard kinds.contains(kind) else {
            throw APIError(.notFound, "no file kind '\(kind)': a boot resource has kernel, initrd and rootfs")
        }
        return (resource, kind)
    }

    struct DeclaredFile: Sendable {
        var sha256: String
        var size: Int64
    }

    /// The size and SHA-256 the boot resource declares for `kind`.
    func declaredFile(resource: String, kind: String) async throws -> DeclaredFile {
        let row = try await store.read { connection in
            try connection.query("SELECT \(kind)_sha256 AS sha256, \(kind)_size AS size FROM boot_resources WHERE id = $1::bigint",
                                 [resource]).rows.first
        }
        guard let row else { throw APIError.notFound("boot_resource", resource) }
        guard let sha256 = row["sha256"], let size = row["size"].flatMap(Int64.init) else {
            throw APIError(.notFound, "boot resource \(resource) has no \(kind)")
        }
        return DeclaredFile(sha256: sha256, size: size)
    }

    /// Streams the body into staged chunks while hashing it; keeps the file only if its size and
    /// SHA-256 are the declared ones. Staged chunks of a refused or broken upload are deleted.
    func upload(resource: String, kind: String, request: Request, actor: Identity) async throws -> Response {
        let declared = try await declaredFile(resource: resource, kind: kind)
        let exists = try await store.read { connection in
            try connection.query("SELECT 1 FROM boot_files WHERE sha256 = $1", [declared.sha256]).rows.count == 1
        }
        let staging = "upload:" + Secrets.randomHex(bytes: 16)
        var hasher = SHA256()
        var pending: [UInt8] = []
        pending.reserveCapacity(Self.chunkSize)
        var total: Int64 = 0
        var chunks = 0
        do {
            for try await buffer in request.body {
                total += Int64(buffer.readableBytes)
                guard total <= declared.size else {
                    throw APIError(.unprocessableContent, "the body is larger than the \(declared.size) bytes boot resource \(resource) declares for its \(kind)")
                }
                buffer.withUnsafeReadableBytes { hasher.update($0) }
                // Already stored (another resource has the same file): hash it, store nothing.
                if exists { continue }
                pending.append(contentsOf: buffer.readableBytesView)
                while pending.count >= Self.chunkSize {
                    let chunk = Array(pending[..<Self.chunkSize])
                    pending.removeFirst(Self.chunkSize)
                    try await storeChunk(chunk, file: staging, index: chunks)
                    chunks += 1
                }
            }
            if !pending.isEmpty && !exists {
                try await storeChunk(pending, file: staging, index: chunks)
                chunks += 1
            }
            let digest = hexString(hasher.finish())
            guard total == declared.size else {
                throw APIError(.unprocessableContent, "the body is \(total) bytes; boot resource \(resource) declares \(declared.size) for its \(kind)")
            }
            guard digest == declared.sha256 else {
                throw APIError(.unprocessableContent, "the body's SHA-256 is \(digest); boot resource \(resource) declares \(declared.sha256) for its \(kind)")
            }
            let chunkCount = chunks, size = total
            try await store.write(actor: actor, action: "upload", objectType: "boot_resource",
                                  summary: "\(kind) of boot resource \(resource): \(size) bytes, sha256 \(digest)") { connection in
                if !exists {
                    let inserted = try connection.query("""
                        INSERT INTO boot_files (sha256, size, chunks) VALUES ($1, $2::bigint, $3::int) ON CONFLICT (sha256) DO NOTHING RETURNING sha256
                        """, [digest, String(size), String(chunkCount)]).rows.count == 1
                    // Another upload of the same bytes finished first: its copy stays, ours goes.
                    if inserted {
                        try connection.query("UPDATE boot_file_chunks SET file = $1 WHERE file = $2", [digest, staging])
                    } else {
                        try connection.query("DELETE FROM boot_file_chunks WHERE file = $1", [staging])
                    }
                }
                return RegionStore.WriteResult(objectID: resource, value: ())
            }
            return JSONBody.response(status: .ok, encoding: UploadResult(sha256: digest, size: total, stored: !exists))
        } catch {
            _ = try? await store.read { connection in
                try connection.query("DELETE FROM boot_file_chunks WHERE file = $1", [staging])
            }
            throw error
        }
    }

    struct UploadResult: Encodable {
        var sha256: String
        var size: Int64
        /// False when the same bytes were already stored (for another resource, or before).
        var stored: Bool
    }

    private func storeChunk(_ chunk: [UInt8], file: String, index: Int) async throws {
        // A staging row on a connection of its own; the upload's commit is the recorded write.
        try await store.read { connection in
            _ = try connection.query("INSERT INTO boot_file_chunks (file, index, bytes) VALUES ($1, $2::int, $3)",
                                 parameters: [.text(file), .text(String(index)), .bytes(chunk)])
        }
    }

    /// The file as a stream of its chunks, read one at a time.
    func download(sha256: String) async throws -> Response {
        let row = try await store.read { connection in
            try connection.query("SELECT size, chunks FROM boot_files WHERE sha256 = $1", [sha256]).rows.first
        }
        guard let row, let size = row["size"].flatMap(Int.init), let chunks = row["chunks"].flatMap(Int.init) else {
            throw APIError(.notFound, "boot file \(sha256) is not uploaded")
        }
        let store = self.store
        let body = ResponseBody(contentLength: size) { writer in
            for index in 0..<chunks {
                let bytes = try await store.read { connection in
                    try connection.bytes("SELECT bytes FROM boot_file_chunks WHERE file = $1 AND index = $2::int", [sha256, String(index)])
                }
                guard let bytes else { throw APIError(.internalServerError, "boot file \(sha256) lost chunk \(index)") }
                try await writer.write(ByteBuffer(bytes: bytes))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "application/octet-stream", .eTag: "\"\(sha256)\""], body: body)
    }

    /// Staged chunks of uploads that never finished (a region stopped mid-upload), deleted at
    /// start; an hour leaves uploads in flight in other region processes alone.
    static func deleteAbandonedUploads(on connection: PostgresConnection) throws {
        try connection.query("DELETE FROM boot_file_chunks WHERE file LIKE 'upload:%' AND staged_at < now() - interval '1 hour'")
    }
}
