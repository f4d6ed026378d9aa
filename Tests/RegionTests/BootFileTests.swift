import Foundation
import Hummingbird
import Tables
import Testing
@testable import Region
import Wire

/// Boot files: uploaded against the declared size and SHA-256, stored in chunks, listed for
/// racks and served back byte for byte.
@Suite(.enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.missingReason)))
struct BootFileTests {
    /// Bytes that span several database chunks and end in a partial one.
    static let kernel: [UInt8] = (0..<(2 * BootFileRoutes.chunkSize + 12_345)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 13) }
    static let initrd: [UInt8] = Array("a small initrd".utf8)

    func makeResource(_ api: APIClient) async throws -> Int {
        try await api.create("/boot-resources", """
            {"name": "ubuntu/noble", "architecture": "amd64",
             "kernel_file": "boot-kernel", "kernel_size": \(Self.kernel.count), "kernel_sha256": "\(hexString(SHA256.hash(Self.kernel)))",
             "initrd_file": "boot-initrd", "initrd_size": \(Self.initrd.count), "initrd_sha256": "\(hexString(SHA256.hash(Self.initrd)))"}
            """)
    }

    func upload(_ api: APIClient, _ path: String, _ bytes: [UInt8], token: APIClient.Token = .admin) async throws -> APIClient.Reply {
        try await api.send(.put, "/api/v1" + path, token: token, bodyBytes: ByteBuffer(bytes: bytes))
    }

    func storedChunks(_ harness: RegionHarness) throws -> Int {
        try PostgresConnection(harness.connectionString).query("SELECT count(*) FROM boot_file_chunks").scalar.flatMap(Int.init) ?? -1
    }

    @Test func uploadsAreVerifiedStoredAndServedBack() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let resource = try await makeResource(api)
            // Not uploaded yet: nothing to list or fetch.
            #expect(try await api.get("/boot-resources/\(resource)/files/kernel").status == 404)
            let empty = try await api.get("/rack/boot-files", token: .rack)
            #expect((empty.object?["files"] as? [Any])?.isEmpty == true)

            let uploaded = try await upload(api, "/boot-resources/\(resource)/files/kernel", Self.kernel)
            #expect(uploaded.status == 200)
            #expect(uploaded.string("sha256") == hexString(SHA256.hash(Self.kernel)))
            #expect(try storedChunks(harness) == 3)
            #expect(try await upload(api, "/boot-resources/\(resource)/files/initrd", Self.initrd).status == 200)

            let back = try await api.get("/boot-resources/\(resource)/files/kernel")
            #expect(back.status == 200)
            #expect(back.bytes == Self.kernel)

            // The rack's view: every uploaded file at name/architecture/file, and by hash.
            let listing = try await api.get("/rack/boot-files", token: .rack)
            let files = try #require(listing.object?["files"] as? [[String: Any]])
            #expect(files.compactMap { $0["path"] as? String } == ["ubuntu/noble/amd64/boot-initrd", "ubuntu/noble/amd64/boot-kernel"])
            let kernelEntry = try #require(files.first { ($0["path"] as? String)?.hasSuffix("kernel") == true })
            #expect((kernelEntry["size"] as? NSNumber)?.intValue == Self.kernel.count)
            let byHash = try await api.get("/rack/boot-files/\(hexString(SHA256.hash(Self.kernel)))", token: .rack)
            #expect(byHash.bytes == Self.kernel)
            #expect(try await api.get("/rack/boot-files/\(String(repeating: "0", count: 64))", token: .rack).status == 404)

            // The upload is an event naming the actor.
            let events = try #require(try await api.get("/events?limit=1000").array)
            #expect(events.contains { $0["action"] as? String == "upload" && ($0["summary"] as? String)?.contains("kernel") == true })

            // Deleting the resource deletes the files no other resource names.
            #expect(try await api.delete("/boot-resources/\(resource)").status == 204)
            #expect(try storedChunks(harness) == 0)
            #expect(try await api.get("/rack/boot-files/\(hexString(SHA256.hash(Self.kernel)))", token: .rack).status == 404)
        }
    }

    @Test func wrongBytesAreRefusedAndLeaveNothing() async throws {
        let harness = try await RegionHarness.make()
        try await harness.run { api in
            let resource = try await makeResource(api)
            var corrupted = Self.kernel
            corrupted[100] ^= 0xFF
            let badDigest = try await upload(api, "/boot-resources/\(resource)/files/kernel", corrupted)
            #expect(badDigest.status == 422)
            #expect(badDigest.error?.contains("SHA-256") == true)
            let short = try await upload(api, "/boot-resources/\(resource)/files/kernel", Array(Self.kernel.dropLast()))
            #expect(short.status == 422)
            #expect(short.error?.contains("declares \(Self.kernel.count)") == true)
            let long = try await upload(api, "/boot-resources/\(resource)/files/kernel", Self.kernel + [0])
            #expect(long.status == 422)
            #expect(try storedChunks(harness) == 0)
            #expect(try await api.get("/boot-resources/\(resource)/files/kernel").status == 404)

            // Only admins upload; the kind and the resource must exist.
            #expect(try await upload(api, "/boot-resources/\(resource)/files/kernel", Self.kernel, token: .readOnly).status == 403)
            #expect(try await upload(api, "/boot-resources/\(resource)/files/rootfs", Self.initrd).status == 404)
            #expect(try await upload(api, "/boot-resources/\(resource)/files/firmware", Self.initrd).status == 404)
            #expect(try await upload(api, "/boot-resources/999999/files/kernel", Self.initrd).status == 404)
            #expect(try storedChunks(harness) == 0)
        }
    }
}
