import Hummingbird
import Testing
@testable import Region

/// A snapshot is written to the rack in pieces: every byte once, in order, whatever the size.
struct SnapshotBodyTests {
    /// Keeps what was written; a class, as the body consumes the writer it is given.
    final class Received: @unchecked Sendable {
        var pieces: [[UInt8]] = []
        var finished = false
    }

    struct Collector: ResponseBodyWriter {
        let received: Received
        mutating func write(_ buffer: ByteBuffer) async throws { received.pieces.append(Array(buffer.readableBytesView)) }
        mutating func write(contentsOf buffers: some Sequence<ByteBuffer>) async throws {
            for buffer in buffers { try await write(buffer) }
        }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws { received.finished = true }
    }

    @Test(arguments: [0, 1, 4_095, 4_096, 4_097, 10_000])
    func everyByteOnceInOrder(size: Int) async throws {
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let body = RackTablesRoutes.body(bytes, piece: 4_096)
        #expect(body.contentLength == size)
        let received = Received()
        try await body.write(Collector(received: received))
        #expect(received.finished)
        #expect(received.pieces.flatMap { $0 } == bytes)
        #expect(received.pieces.allSatisfy { !$0.isEmpty && $0.count <= 4_096 })
        #expect(received.pieces.count == (size + 4_095) / 4_096)
    }
}
