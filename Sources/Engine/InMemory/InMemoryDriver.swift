/// The in-memory backend: no kernel. A test (through `InMemoryRing`) injects datagrams,
/// connections and bytes, advances the clock, and reads back what the service sent. Sends
/// complete when the test says so, so ordering and back-pressure are testable.
final class InMemoryDriver: RingDriver {
    let name = "memory"
    unowned let context: RingContext
    let shouldStop: () -> Bool

    struct Socket {
        var options: UDPSocketOptions?
        var listener: TCPListenerOptions?
        var id: SocketID?
    }

    struct PendingStreamSend {
        var connection: ConnectionID
        var slot: Int32?
        var length: Int
        var file: (fd: Int32, offset: Int64, length: Int64)?
    }

    private var nextDescriptor: Int32 = 1_000_000
    var sockets: [Int32: Socket] = [:]
    var connectionDescriptors: [ConnectionID: Int32] = [:]
    var sentDatagrams: [InMemoryRing.SentDatagram] = []
    var sentFrames: [InMemoryRing.SentFrame] = []
    var streamOutput: [ConnectionID: [UInt8]] = [:]
    var pendingStreamSends: [PendingStreamSend] = []
    var closedDescriptors: [Int32] = []

    init(context: RingContext, shouldStop: @escaping () -> Bool = { false }) {
        self.context = context
        self.shouldStop = shouldStop
    }

    func descriptor() -> Int32 {
        nextDescriptor += 1
        return nextDescriptor
    }

    func makeUDPSocket(_ options: UDPSocketOptions) throws(SystemError) -> Int32 {
        var options = options
        if options.bind.port == 0 { options.bind.port = UInt16(truncatingIfNeeded: 40_000 + nextDescriptor % 20_000) }
        let fd = descriptor()
        sockets[fd] = Socket(options: options)
        return fd
    }

    func makeListener(_ options: TCPListenerOptions) throws(SystemError) -> Int32 {
        let fd = descriptor()
        sockets[fd] = Socket(listener: options)
        return fd
    }

    func localEndpoint(_ fd: Int32) throws(SystemError) -> IPv4Endpoint {
        guard let socket = sockets[fd] else { throw SystemError(errno: 9, call: "getsockname") }
        return socket.options?.bind ?? socket.listener!.bind
    }

    func closeDescriptor(_ fd: Int32) {
        sockets[fd] = nil
        closedDescriptors.append(fd)
    }

    func armDatagramSocket(_ id: SocketID, fd: Int32) { sockets[fd]?.id = id }
    func armListener(_ id: SocketID, fd: Int32) { sockets[fd]?.id = id }
    func armConnection(_ id: ConnectionID, fd: Int32) { connectionDescriptors[id] = fd }

    func disarmSocket(_ id: SocketID, fd: Int32) { context.socketReleased(id) }

    func disarmConnection(_ id: ConnectionID, fd: Int32) {
        // A send in flight completes (as a cancelled kernel op would) before the release.
        for pending in pendingStreamSends where pending.connection == id {
            if let slot = pending.slot { context.slots.release(slot) }
        }
        pendingStreamSends.removeAll { $0.connection == id }
        connectionDescriptors[id] = nil
        context.connectionReleased(id)
    }

    func sendDatagram(fd: Int32, slot: Int32, length: Int, extra: UnsafeRawBufferPointer?,
                      destination: IPv4Endpoint, source: UInt32, interfaceIndex: Int32) {
        var bytes = Array(UnsafeRawBufferPointer(rebasing: context.slots.buffer(slot)[0..<length]))
        if let extra { bytes.append(contentsOf: extra) }
        let from = sockets[fd]?.options?.bind ?? .any(port: 0)
        sentDatagrams.append(.init(socket: sockets[fd]?.id, from: from, payload: bytes, destination: destination,
                                   source: source, interfaceIndex: interfaceIndex))
        context.slots.release(slot)
        context.counters.datagramsSent &+= 1
    }

    /// Segments like the kernel does, within the same limits: each datagram recorded on its own.
    func segmentLimit(headerLength: Int, chunk: Int) -> Int {
        SegmentedSendLimit.datagrams(slotSize: context.configuration.sendSlotSize, headerLength: headerLength, chunk: chunk)
    }

    func sendSegmented(fd: Int32, slot: Int32, headerLength: Int, count: Int, body: UnsafeRawBufferPointer, chunk: Int,
                       destination: IPv4Endpoint) {
        let slotBytes = context.slots.buffer(slot)
        let from = sockets[fd]?.options?.bind ?? .any(port: 0)
        for i in 0..<count {
            var bytes = Array(UnsafeRawBufferPointer(rebasing: slotBytes[i * headerLength..<(i + 1) * headerLength]))
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[i * chunk..<min(body.count, (i + 1) * chunk)]))
            sentDatagrams.append(.init(socket: sockets[fd]?.id, from: from, payload: bytes, destination: destination,
                                       source: 0, interfaceIndex: 0))
        }
        context.slots.release(slot)
        context.counters.datagramsSent &+= UInt64(count)
        context.counters.segmentedSends &+= 1
    }

    func sendFrame(slot: Int32, length: Int, interfaceIndex: Int32, destinationMAC: UInt64) throws(SystemError) {
        let bytes = Array(UnsafeRawBufferPointer(rebasing: context.slots.buffer(slot)[0..<length]))
        sentFrames.append(.init(frame: bytes, interfaceIndex: interfaceIndex, destinationMAC: destinationMAC))
        context.slots.release(slot)
        context.counters.framesSent &+= 1
    }

    func streamSend(_ id: ConnectionID, fd: Int32, slot: Int32, length: Int) {
        pendingStreamSends.append(.init(connection: id, slot: slot, length: length, file: nil))
    }

    func streamSendFile(_ id: ConnectionID, fd: Int32, file: Int32, offset: Int64, length: Int64) {
        pendingStreamSends.append(.init(connection: id, slot: nil, length: Int(length), file: (file, offset, length)))
    }

    /// The in-memory loop has nothing to wait for: the test drives it. `run` only serves the
    /// threaded `Engine` with `.memory`, idling until stopped.
    func run() throws(SystemError) {
        while !shouldStop() { usleepMilliseconds(1) }
        context.beginShutdown()
    }

    func wake() {}
}

import Glibc

private func usleepMilliseconds(_ ms: UInt32) { usleep(ms * 1000) }
