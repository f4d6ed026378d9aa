import Glibc
import Testing
@testable import Rack
import Site
import Tables
import Wire

/// A connected rack's download of its tables, against a real HTTP server on loopback that
/// answers once with whatever the test gives it: the snapshot lands in the staged file beside
/// `tables.snapshot` and opens; a body of another size, another digest, or one that does not
/// validate is refused and leaves nothing in the state directory.
@Suite(.serialized)
struct RegionLinkFetchTests {
    static func snapshot(generation: UInt64) throws -> [UInt8] {
        try SiteCompiler.compile(SiteCompiler.prepare(SiteFile.parse(SiteTableSourceTests.site, file: "site.yaml")), generation: generation, createdAt: 0)
    }

    /// Listens on 127.0.0.1 (an ephemeral port) and answers one request with `body`, its
    /// Content-Length saying `declared` bytes, then closes.
    final class OneShotServer: @unchecked Sendable {
        let fd: Int32
        let port: UInt16
        private var thread: pthread_t?
        private let received = Received()
        /// The request's head, once `finish` returned.
        var request: String { received.head }

        final class Received: @unchecked Sendable { var head = "" }

        init(body: [UInt8], declared: Int? = nil) throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            try #require(listener >= 0)
            fd = listener
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0
                }
            }
            try #require(bound)
            port = UInt16(bigEndian: address.sin_port)
            let response = Array("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(declared ?? body.count)\r\nConnection: close\r\n\r\n".utf8) + body
            let received = self.received
            let box = Unmanaged.passRetained(Job {
                let connection = accept(listener, nil, nil)
                guard connection >= 0 else { return }
                defer { close(connection) }
                var head: [UInt8] = []
                var byte: UInt8 = 0
                while !head.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)), recv(connection, &byte, 1, 0) == 1 { head.append(byte) }
                received.head = String(decoding: head, as: UTF8.self)
                var sent = 0
                while sent < response.count {
                    let n = response.withUnsafeBytes { send(connection, $0.baseAddress! + sent, response.count - sent, Int32(MSG_NOSIGNAL)) }
                    guard n > 0 else { return }
                    sent += n
                }
            })
            var created = pthread_t()
            try #require(pthread_create(&created, nil, { raw in
                Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, box.toOpaque()) == 0)
            thread = created
        }

        /// Waits for the answer to have gone out, then closes the listener; once (later calls
        /// do nothing). A server nobody connected to stops waiting in accept.
        func finish() {
            guard let thread else { return }
            self.thread = nil
            shutdown(fd, Int32(SHUT_RDWR))
            pthread_join(thread, nil)
            close(fd)
        }

        final class Job {
            let body: () -> Void
            init(_ body: @escaping () -> Void) { self.body = body }
        }
    }

    /// What a fetch may leave: files named after the snapshot (the link's own directories
    /// for images and files are made when it is created).
    func staged(_ scratch: ScratchDirectory) -> [String] { scratch.entries.filter { $0.hasPrefix("tables.snapshot") } }

    /// Fetches `announcement` from a server answering with `body` (declaring `declared` bytes).
    func fetch(_ body: [UInt8], declared: Int? = nil, announcement: (String) -> RegionLink.Announcement,
               in state: String) throws -> (snapshot: TableSnapshot, temporary: String, request: String) {
        let server = try OneShotServer(body: body, declared: declared)
        defer { server.finish() }
        let link = try RegionLink(url: "http://127.0.0.1:\(server.port)", secret: "s3cret", name: "rack-1", stateDirectory: state,
                                  filesRoot: state + "/files", durableSequence: JournalMark(), log: RackLog(level: .critical))
        let digest = hexString(SHA256.hash(body))
        let fetched = try link.fetch(announcement(digest), rack: 7)
        server.finish()
        return (fetched.snapshot, fetched.temporary, server.request)
    }

    @Test func aSnapshotIsDownloadedIntoItsStagedFileAndOpens() throws {
        let scratch = try ScratchDirectory("rackplane-fetch")
        defer { scratch.remove() }
        let state = scratch.path
        let bytes = try Self.snapshot(generation: 42)
        let fetched = try fetch(bytes, announcement: { .init(generation: 42, sha256: $0, size: bytes.count) }, in: state)
        #expect(fetched.request.hasPrefix("GET /api/v1/racks/7/tables/\(hexString(SHA256.hash(bytes))) HTTP/1.1\r\n"))
        #expect(fetched.request.contains("Authorization: Rack s3cret\r\n"))
        #expect(fetched.snapshot.generation == 42)
        #expect(fetched.snapshot.reservation(mac: MACAddress("52:54:00:00:00:01")!)?.address == IPv4Address("198.18.0.21"))
        #expect(fetched.temporary == TableFile.temporaryPath(for: state + "/tables.snapshot"))
        #expect(staged(scratch) == [String(fetched.temporary.split(separator: "/").last!)])
    }

    @Test func aDownloadThatIsNotWhatWasAnnouncedLeavesNothing() throws {
        let scratch = try ScratchDirectory("rackplane-fetch")
        defer { scratch.remove() }
        let state = scratch.path
        let bytes = try Self.snapshot(generation: 43)
        // Another digest than announced.
        #expect(throws: RegionHTTPClient.Failure.self) {
            try fetch(bytes, announcement: { _ in .init(generation: 43, sha256: String(repeating: "ab", count: 32), size: bytes.count) }, in: state)
        }
        #expect(staged(scratch).isEmpty)
        // More bytes than announced.
        #expect(throws: RegionHTTPClient.Failure.self) {
            try fetch(bytes, announcement: { .init(generation: 43, sha256: $0, size: bytes.count - 1) }, in: state)
        }
        #expect(staged(scratch).isEmpty)
        // Fewer than announced: the server says so in its Content-Length, then closes early.
        #expect(throws: RegionHTTPClient.Failure.self) {
            try fetch(Array(bytes.dropLast(10)), declared: bytes.count,
                      announcement: { .init(generation: 43, sha256: $0, size: bytes.count) }, in: state)
        }
        #expect(staged(scratch).isEmpty)
        // A Content-Length no body can have.
        #expect(throws: RegionHTTPClient.Failure.self) {
            try fetch(bytes, declared: -5, announcement: { .init(generation: 43, sha256: $0, size: bytes.count) }, in: state)
        }
        #expect(staged(scratch).isEmpty)
        // Announced as sent, but not a snapshot that validates.
        var corrupt = bytes
        corrupt[corrupt.count / 2] ^= 0xFF
        #expect(throws: TablesError.self) {
            try fetch(corrupt, announcement: { .init(generation: 43, sha256: $0, size: corrupt.count) }, in: state)
        }
        #expect(staged(scratch).isEmpty)
    }
}
