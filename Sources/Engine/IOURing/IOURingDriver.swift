import CLibURing
import CLinuxShims
import Glibc

/// The io_uring backend: one ring per thread (`SINGLE_ISSUER | DEFER_TASKRUN`), multishot
/// receives into provided buffers, sends from pre-allocated slots, all submitted in batches.
/// Each loop turn: submit everything prepared, wait for at least one completion (or the next
/// timer tick), handle every completion, hand buffers back, then end the batch.
final class IOURingDriver: RingDriver {
    let name = "io_uring"
    // unowned(unsafe): the context outlives its driver (the ring thread holds both and drops
    // the driver first), and plain `unowned` costs a retain and release on every access, which
    // showed up in the per-datagram profile (docs/benchmarks.md, "Engine").
    unowned(unsafe) let context: RingContext
    unowned let thread: RingThread
    let ring: UnsafeMutablePointer<io_uring>
    let datagramBuffers: ProvidedBufferRing
    let streamBuffers: ProvidedBufferRing
    static let datagramGroup: UInt16 = 0
    static let streamGroup: UInt16 = 1

    /// Per UDP socket: the msghdr multishot recvmsg reads name and control lengths from.
    let receiveHeaders: UnsafeMutablePointer<msghdr>
    /// Per send slot: the sendmsg header, vectors, destination and control data.
    let slotMessages: UnsafeMutablePointer<SlotMessage>
    /// Per connection: the linked timeout's duration (read by the kernel at submission).
    let linkTimeouts: UnsafeMutablePointer<__kernel_timespec>

    /// Operations in flight per socket (its multishot receive or accept) and per connection.
    var socketOperations: [Int32]
    var connectionOperations: [Int32]
    var streams: [StreamState]
    var slotOperations = 0
    var otherOperations = 0

    var socketsToRearm: [SocketID] = []
    var connectionsToRearm: [ConnectionID] = []
    /// File sends a handler asked for, started once its call has returned (`startQueuedFiles`):
    /// their first splices run inline and may finish (or fail) at once, which a handler must
    /// not see from inside its own call.
    var filesToStart: [ConnectionID] = []
    private var filesStarting: [ConnectionID] = []
    let wakeDescriptor: Int32
    var wakeArmed = false
    var packetSocket: Int32 = -1
    private var completions: UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>
    static let completionBatch = 256

    struct StreamState {
        var slot: Int32 = -1
        var sent = 0
        var length = 0
        var file: Int32 = -1
        var fileOffset: Int64 = 0
        var fileRemaining: Int64 = 0
        var fileSent: Int64 = 0
        var pipeRead: Int32 = -1
        var pipeWrite: Int32 = -1
        var inPipe = 0
        // FileSendMethod.zeroCopySend: the file range mapped read-only (from `mappingStart`, a
        // page boundary), whether a send_zc is in flight (one at a time keeps the bytes in
        // order), and how many notifications (IORING_CQE_F_NOTIF) are still to come. The
        // mapping is unmapped only when that count is back to 0: until then the kernel may
        // still read the pages.
        var mapping: UnsafeMutableRawPointer? = nil
        var mappingStart: Int64 = 0
        var mappingLength = 0
        var zeroCopySending = false
        var zeroCopyNotifications = 0
    }

    init(context: RingContext, thread: RingThread) throws(SystemError) {
        self.context = context
        self.thread = thread
        let configuration = context.configuration
        ring = .allocate(capacity: 1)
        ring.initialize(to: io_uring())
        var parameters = io_uring_params()
        parameters.flags = UInt32(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL)
        parameters.cq_entries = configuration.completionEntries
        let result = io_uring_queue_init_params(configuration.submissionEntries, ring, &parameters)
        if result < 0 {
            ring.deallocate()
            throw SystemError(errno: -result, call: "io_uring_queue_init_params")
        }
        do throws(SystemError) {
            datagramBuffers = try ProvidedBufferRing(ring: &ring.pointee, group: Self.datagramGroup,
                                                     count: configuration.datagramBuffers, bufferSize: configuration.datagramBufferSize)
            streamBuffers = try ProvidedBufferRing(ring: &ring.pointee, group: Self.streamGroup,
                                                   count: configuration.streamBuffers, bufferSize: configuration.streamBufferSize)
            wakeDescriptor = try system("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
        } catch {
            io_uring_queue_exit(ring)
            ring.deallocate()
            throw error
        }
        // Fixed in place (the kernel reads a socket's header when its receive is armed), each
        // written when its socket is armed: the pages of sockets never opened stay untouched.
        receiveHeaders = .allocate(capacity: configuration.maxSockets)
        slotMessages = .allocate(capacity: configuration.sendSlots)
        slotMessages.initialize(repeating: SlotMessage(), count: configuration.sendSlots)
        // Written before each use; untouched pages cost nothing.
        linkTimeouts = .allocate(capacity: configuration.maxConnections)
        socketOperations = []  // grown as sockets are armed
        // Per connection: grown as connections arrive (`armConnection`).
        connectionOperations = []
        streams = []
        completions = .allocate(capacity: Self.completionBatch)
        socketsToRearm.reserveCapacity(256)
        connectionsToRearm.reserveCapacity(256)
        filesToStart.reserveCapacity(64)
        filesStarting.reserveCapacity(64)
    }

    deinit {
        io_uring_queue_exit(ring)
        ring.deallocate()
        Glibc.close(wakeDescriptor)
        if packetSocket >= 0 { Glibc.close(packetSocket) }
        receiveHeaders.deallocate()
        slotMessages.deallocate()
        linkTimeouts.deallocate()
        completions.deallocate()
    }

    // MARK: Submission

    /// A free submission entry; when the queue is full, what is queued is submitted first.
    @inline(__always)
    private func submissionEntry() -> UnsafeMutablePointer<io_uring_sqe> {
        while true {
            if let sqe = io_uring_get_sqe(ring) { return sqe }
            let result = io_uring_submit(ring)
            if result == -EBUSY {
                // The kernel holds overflowed completions; flush them into the queue.
                context.counters.submitBusy &+= 1
                _ = io_uring_get_events(ring)
            }
        }
    }

    @inline(__always)
    private func setFlag(_ sqe: UnsafeMutablePointer<io_uring_sqe>, _ bit: Int) {
        sqe.pointee.flags |= UInt8(1 << bit)
    }

    private static let bufferSelectBit = Int(IOSQE_BUFFER_SELECT_BIT)
    private static let linkBit = Int(IOSQE_IO_LINK_BIT)

    // MARK: Descriptors

    func makeUDPSocket(_ options: UDPSocketOptions) throws(SystemError) -> Int32 { try Sockets.udp(options) }
    func makeListener(_ options: TCPListenerOptions) throws(SystemError) -> Int32 { try Sockets.tcpListener(options) }
    func localEndpoint(_ fd: Int32) throws(SystemError) -> IPv4Endpoint { try Sockets.localEndpoint(fd) }
    func closeDescriptor(_ fd: Int32) { Glibc.close(fd) }

    // MARK: Arming

    func armDatagramSocket(_ id: SocketID, fd: Int32) {
        var header = msghdr()
        header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
        header.msg_controllen = SlotMessage.pktinfoControlLength
        (receiveHeaders + Int(id.index)).initialize(to: header)
        socketOperations.grow(toInclude: Int(id.index), with: 0)
        let sqe = submissionEntry()
        io_uring_prep_recvmsg_multishot(sqe, fd, receiveHeaders + Int(id.index), 0)
        setFlag(sqe, Self.bufferSelectBit)
        sqe.pointee.buf_group = Self.datagramGroup
        io_uring_sqe_set_data64(sqe, UserData(.datagramReceive, index: id.index, generation: id.generation).raw)
        socketOperations[Int(id.index)] += 1
    }

    func armListener(_ id: SocketID, fd: Int32) {
        let sqe = submissionEntry()
        // Accepted sockets stay blocking: io_uring's recv and send never block the ring (they
        // poll internally), while a send punted to an io-wq worker on an O_NONBLOCK socket
        // fails with EAGAIN (the kernel adds MSG_DONTWAIT for it). Only the file send's own
        // splices make a socket non-blocking, for the length of each call.
        socketOperations.grow(toInclude: Int(id.index), with: 0)
        io_uring_prep_multishot_accept(sqe, fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        io_uring_sqe_set_data64(sqe, UserData(.accept, index: id.index, generation: id.generation).raw)
        socketOperations[Int(id.index)] += 1
    }

    func armConnection(_ id: ConnectionID, fd: Int32) {
        let sqe = submissionEntry()
        io_uring_prep_recv_multishot(sqe, fd, nil, 0, 0)
        setFlag(sqe, Self.bufferSelectBit)
        sqe.pointee.buf_group = Self.streamGroup
        io_uring_sqe_set_data64(sqe, UserData(.streamReceive, index: id.index, generation: id.generation).raw)
        connectionOperations.grow(toInclude: Int(id.index), with: 0)
        streams.grow(toInclude: Int(id.index), with: StreamState())
        connectionOperations[Int(id.index)] += 1
    }

    func disarmSocket(_ id: SocketID, fd: Int32) {
        if socketOperations[Int(id.index)] == 0 {
            context.socketReleased(id)
            return
        }
        cancelAll(fd: fd)
    }

    func disarmConnection(_ id: ConnectionID, fd: Int32) {
        if connectionOperations[Int(id.index)] == 0 {
            releaseConnection(id)
            return
        }
        let stream = streams[Int(id.index)]
        cancelAll(fd: fd)
        // A queued file read targets the pipe, not the socket.
        if stream.file >= 0, stream.pipeWrite >= 0 { cancelAll(fd: stream.pipeWrite) }
        if stream.mapping != nil { abandonQueuedData(fd: fd) }
    }

    /// A zero-copy file send is abandoned (timeout, error, peer gone, shutdown): the socket's
    /// queues still hold mapped pages, and their notifications would only come once the peer
    /// acknowledged them or TCP gave up (minutes, for a peer that stopped reading). `connect`
    /// with `AF_UNSPEC` disconnects the socket (`tcp_disconnect`: a reset, queues purged), so
    /// the notifications arrive now and the connection can be released. The descriptor stays
    /// open until then.
    private func abandonQueuedData(fd: Int32) {
        var address = sockaddr()
        address.sa_family = sa_family_t(AF_UNSPEC)
        _ = Glibc.connect(fd, &address, socklen_t(MemoryLayout<sockaddr>.size))
    }

    private func cancelAll(fd: Int32) {
        let sqe = submissionEntry()
        io_uring_prep_cancel_fd(sqe, fd, UInt32(IORING_ASYNC_CANCEL_ALL))
        io_uring_sqe_set_data64(sqe, UserData(.cancel, index: 0).raw)
        otherOperations += 1
    }

    private func releaseConnection(_ id: ConnectionID) {
        let i = Int(id.index)
        if streams[i].slot >= 0 { context.slots.release(streams[i].slot) }
        if streams[i].pipeRead >= 0 { Glibc.close(streams[i].pipeRead) }
        if streams[i].pipeWrite >= 0 { Glibc.close(streams[i].pipeWrite) }
        unmapFile(i)
        streams[i] = StreamState()
        context.connectionReleased(id)
    }

    // MARK: Sending

    /// Points a slot's message at `destination`, kept in the message itself.
    @inline(__always)
    private func address(_ message: UnsafeMutablePointer<SlotMessage>, to destination: IPv4Endpoint) {
        withUnsafeMutableBytes(of: &message.pointee.address) { raw in
            raw.storeBytes(of: destination.sockaddr, as: sockaddr_in.self)
        }
        message.pointee.header.msg_name = UnsafeMutableRawPointer(message).advanced(by: MemoryLayout<SlotMessage>.offset(of: \.address)!)
        message.pointee.header.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
    }

    func sendDatagram(fd: Int32, slot: Int32, length: Int, extra: UnsafeRawBufferPointer?,
                      destination: IPv4Endpoint, source: UInt32, interfaceIndex: Int32) {
        let message = slotMessages + Int(slot)
        let buffer = context.slots.buffer(slot)
        message.pointee.vectors.0 = iovec(iov_base: buffer.baseAddress, iov_len: length)
        var vectorCount = 1
        if let extra, extra.count > 0 {
            message.pointee.vectors.1 = iovec(iov_base: UnsafeMutableRawPointer(mutating: extra.baseAddress), iov_len: extra.count)
            vectorCount = 2
        }
        address(message, to: destination)
        message.pointee.header.msg_iov = UnsafeMutablePointer(mutating: UnsafeRawPointer(message).advanced(by: MemoryLayout<SlotMessage>.offset(of: \.vectors)!).assumingMemoryBound(to: iovec.self))
        message.pointee.header.msg_iovlen = vectorCount
        message.pointee.header.msg_flags = 0
        if source != 0 || interfaceIndex != 0 {
            let control = UnsafeMutableRawPointer(message).advanced(by: MemoryLayout<SlotMessage>.offset(of: \.control)!)
            control.initializeMemory(as: UInt8.self, repeating: 0, count: SlotMessage.pktinfoControlLength)
            let header = control.assumingMemoryBound(to: cmsghdr.self)
            header.pointee.cmsg_len = rp_cmsg_len(MemoryLayout<in_pktinfo>.size)
            header.pointee.cmsg_level = Int32(IPPROTO_IP)
            header.pointee.cmsg_type = Int32(IP_PKTINFO)
            var info = in_pktinfo()
            info.ipi_ifindex = interfaceIndex
            info.ipi_spec_dst.s_addr = source.bigEndian
            UnsafeMutableRawPointer(rp_cmsg_data(header)).storeBytes(of: info, as: in_pktinfo.self)
            message.pointee.header.msg_control = control
            message.pointee.header.msg_controllen = SlotMessage.pktinfoControlLength
        } else {
            message.pointee.header.msg_control = nil
            message.pointee.header.msg_controllen = 0
        }
        let sqe = submissionEntry()
        if vectorCount == 1, message.pointee.header.msg_control == nil {
            // The common reply: one buffer, no IP_PKTINFO. A plain send with the destination
            // in the SQE (kernel 6.0+; the ring needs 6.1 anyway) spares the kernel copying and
            // checking a msghdr and an iovec per datagram.
            io_uring_prep_send(sqe, fd, buffer.baseAddress, length, 0)
            io_uring_prep_send_set_addr(sqe, message.pointee.header.msg_name.assumingMemoryBound(to: sockaddr.self),
                                        UInt16(MemoryLayout<sockaddr_in>.size))
        } else {
            io_uring_prep_sendmsg(sqe, fd, &message.pointee.header, 0)
        }
        io_uring_sqe_set_data64(sqe, UserData(.datagramSend, index: UInt32(slot)).raw)
        slotOperations += 1
    }

    /// Set once the kernel refused a UDP_SEGMENT send (a device without checksum offload, a
    /// segment larger than the MTU): windows go datagram by datagram from then on.
    private var segmentationRefused = false

    func segmentLimit(headerLength: Int, chunk: Int) -> Int {
        if segmentationRefused { return 1 }
        return SegmentedSendLimit.datagrams(slotSize: context.configuration.sendSlotSize, headerLength: headerLength, chunk: chunk)
    }

    func sendSegmented(fd: Int32, slot: Int32, headerLength: Int, count: Int, body: UnsafeRawBufferPointer, chunk: Int,
                       destination: IPv4Endpoint) {
        let message = slotMessages + Int(slot)
        let buffer = context.slots.buffer(slot)
        // The iovecs go after the headers, 16-byte aligned (`SegmentedSendLimit` keeps room).
        let vectorStart = (UInt(bitPattern: buffer.baseAddress! + count * headerLength) + 15) & ~15
        let vectors = UnsafeMutableRawPointer(bitPattern: vectorStart)!.bindMemory(to: iovec.self, capacity: 2 * count)
        let bodyBase = UnsafeMutableRawPointer(mutating: body.baseAddress)
        for i in 0..<count {
            vectors[2 * i] = iovec(iov_base: buffer.baseAddress! + i * headerLength, iov_len: headerLength)
            let start = i * chunk
            vectors[2 * i + 1] = iovec(iov_base: bodyBase.map { $0 + start }, iov_len: min(chunk, body.count - start))
        }
        address(message, to: destination)
        message.pointee.header.msg_iov = vectors
        message.pointee.header.msg_iovlen = 2 * count
        message.pointee.header.msg_flags = 0
        // UDP_SEGMENT (linux/udp.h: SOL_UDP 17, UDP_SEGMENT 103): the kernel cuts the payload
        // into datagrams of this size, the last one shorter.
        let control = UnsafeMutableRawPointer(message).advanced(by: MemoryLayout<SlotMessage>.offset(of: \.control)!)
        control.initializeMemory(as: UInt8.self, repeating: 0, count: SlotMessage.segmentControlLength)
        let header = control.assumingMemoryBound(to: cmsghdr.self)
        header.pointee.cmsg_len = rp_cmsg_len(MemoryLayout<UInt16>.size)
        header.pointee.cmsg_level = Int32(IPPROTO_UDP)
        header.pointee.cmsg_type = 103
        UnsafeMutableRawPointer(rp_cmsg_data(header)).storeBytes(of: UInt16(headerLength + chunk), as: UInt16.self)
        message.pointee.header.msg_control = control
        message.pointee.header.msg_controllen = SlotMessage.segmentControlLength
        let sqe = submissionEntry()
        io_uring_prep_sendmsg(sqe, fd, &message.pointee.header, 0)
        io_uring_sqe_set_data64(sqe, UserData(.segmentedSend, index: UInt32(slot), generation: UInt32(count)).raw)
        slotOperations += 1
    }

    func sendFrame(slot: Int32, length: Int, interfaceIndex: Int32, destinationMAC: UInt64) throws(SystemError) {
        if packetSocket < 0 {
            do throws(SystemError) {
                packetSocket = try Sockets.packet()
            } catch {
                context.slots.release(slot)
                throw error
            }
        }
        let message = slotMessages + Int(slot)
        message.pointee.vectors.0 = iovec(iov_base: context.slots.buffer(slot).baseAddress, iov_len: length)
        var link = sockaddr_ll()
        link.sll_family = UInt16(AF_PACKET)
        link.sll_protocol = UInt16(ETH_P_IP).bigEndian
        link.sll_ifindex = interfaceIndex
        link.sll_halen = 6
        withUnsafeMutableBytes(of: &link.sll_addr) { raw in
            for i in 0..<6 { raw[i] = UInt8(truncatingIfNeeded: destinationMAC >> UInt64(40 - 8 * i)) }
        }
        message.pointee.address = link
        message.pointee.header.msg_name = UnsafeMutableRawPointer(message).advanced(by: MemoryLayout<SlotMessage>.offset(of: \.address)!)
        message.pointee.header.msg_namelen = socklen_t(MemoryLayout<sockaddr_ll>.size)
        message.pointee.header.msg_iov = UnsafeMutableRawPointer(message).advanced(by: MemoryLayout<SlotMessage>.offset(of: \.vectors)!).assumingMemoryBound(to: iovec.self)
        message.pointee.header.msg_iovlen = 1
        message.pointee.header.msg_control = nil
        message.pointee.header.msg_controllen = 0
        let sqe = submissionEntry()
        io_uring_prep_sendmsg(sqe, packetSocket, &message.pointee.header, 0)
        io_uring_sqe_set_data64(sqe, UserData(.frameSend, index: UInt32(slot)).raw)
        slotOperations += 1
    }

    func streamSend(_ id: ConnectionID, fd: Int32, slot: Int32, length: Int) {
        let i = Int(id.index)
        streams[i].slot = slot
        streams[i].sent = 0
        streams[i].length = length
        submitStreamSend(id, fd: fd)
    }

    private func submitStreamSend(_ id: ConnectionID, fd: Int32) {
        let i = Int(id.index)
        let buffer = context.slots.buffer(streams[i].slot)
        let sqe = submissionEntry()
        io_uring_prep_send(sqe, fd, buffer.baseAddress! + streams[i].sent, streams[i].length - streams[i].sent, Int32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, UserData(.streamSend, index: id.index, generation: id.generation).raw)
        connectionOperations[i] += 1
        linkTimeout(sqe, id)
    }

    /// Links a timeout to a stream write: a client that stops reading for the listener's idle
    /// time gets its write cancelled (and the connection closed) by the kernel.
    private func linkTimeout(_ sqe: UnsafeMutablePointer<io_uring_sqe>, _ id: ConnectionID) {
        let i = Int(id.index)
        let (idle, _) = context.listenerTimeouts(context.connections[i].listener)
        guard idle > 0 else { return }
        setFlag(sqe, Self.linkBit)
        linkTimeouts[i] = __kernel_timespec(tv_sec: Int64(idle / 1000), tv_nsec: Int64(idle % 1000) * 1_000_000)
        let timeout = submissionEntry()
        io_uring_prep_link_timeout(timeout, linkTimeouts + i, 0)
        io_uring_sqe_set_data64(timeout, UserData(.linkTimeout, index: id.index, generation: id.generation).raw)
        connectionOperations[i] += 1
    }

    /// Files go file → pipe → socket with splice: the page cache pages are handed to the socket
    /// without being copied through user space. The default: on loopback it beat send_zc from
    /// a mapping 1.65× (figures at `RingConfiguration.fileSendMethod` and in docs/benchmarks.md).
    static let pipeBytes: Int32 = 1 << 20
    /// File bytes one connection may move in one go before the others get theirs.
    static let fileBytesPerConnection = 4 << 20
    /// File bytes all connections together may move on the ring thread per turn of the loop:
    /// at about 5 GiB/s that is 1.5 ms, so the datagrams of the ring's other services wait
    /// no longer than that behind a busy image server.
    static let fileBytesPerTurn = 8 << 20
    /// What is left of `fileBytesPerTurn` in this turn.
    var fileBytesThisTurn = 0

    /// Records the file range; the send starts once the handler's call has returned (at the end
    /// of the batch, or at the top of the next turn: `startQueuedFiles`), because it can
    /// finish, or fail, at once.
    func streamSendFile(_ id: ConnectionID, fd: Int32, file: Int32, offset: Int64, length: Int64) {
        let i = Int(id.index)
        streams[i].file = file
        streams[i].fileOffset = offset
        streams[i].fileRemaining = length
        streams[i].fileSent = 0
        streams[i].inPipe = 0
        filesToStart.append(id)
    }

    /// Starts the queued file sends; a send that finishes at once may make its handler queue
    /// another, so until none is left.
    private func startQueuedFiles() {
        while !filesToStart.isEmpty {
            swap(&filesToStart, &filesStarting)
            for id in filesStarting where context.liveConnection(id) != nil {
                let fd = context.connections[Int(id.index)].fd
                if context.configuration.fileSendMethod == .zeroCopySend {
                    startZeroCopy(id, fd: fd)
                } else {
                    startSplicing(id, fd: fd)
                }
            }
            filesStarting.removeAll(keepingCapacity: true)
        }
    }

    private func startSplicing(_ id: ConnectionID, fd: Int32) {
        let i = Int(id.index)
        if streams[i].pipeRead < 0 {
            var ends: (Int32, Int32) = (-1, -1)
            let made = withUnsafeMutableBytes(of: &ends) { rp_pipe2($0.baseAddress!.assumingMemoryBound(to: Int32.self), O_CLOEXEC) }
            guard made == 0 else {
                context.beginClosing(id, reason: .error(errno))
                return
            }
            _ = rp_pipe_set_size(ends.1, Self.pipeBytes)
            streams[i].pipeRead = ends.0
            streams[i].pipeWrite = ends.1
        }
        continueFile(id, fd: fd)
    }

    /// Moves the file on, on the ring thread, as nginx's `sendfile` does: io_uring runs every
    /// `IORING_OP_SPLICE` on a worker thread, and with many clients those hand-offs cost more
    /// CPU per GiB than the splices themselves. A range whose pages are all in the page cache
    /// and read (`cachedRange`) goes file → pipe here; any other is read into the pipe by an
    /// io_uring splice, so a cold file does not hold the ring. The pipe goes to the socket with
    /// the socket non-blocking for that call only; a full socket, or a spent budget, arms a
    /// poll for POLLOUT with the idle timeout linked.
    private func continueFile(_ id: ConnectionID, fd: Int32) {
        let i = Int(id.index)
        var budget = min(Self.fileBytesPerConnection, fileBytesThisTurn)
        while true {
            if streams[i].inPipe > 0 {
                guard budget > 0 else {
                    // Most likely still writable: the poll completes on the next turn, after
                    // the datagrams and connections waiting behind this one.
                    waitForWritable(id, fd: fd)
                    return
                }
                let moved = spliceToSocket(i, fd: fd, count: min(streams[i].inPipe, budget))
                if moved > 0 {
                    streams[i].inPipe -= moved
                    streams[i].fileSent += Int64(moved)
                    budget -= moved
                    fileBytesThisTurn -= moved
                    context.streamActivity(id)
                    continue
                }
                if moved < 0, errno == EAGAIN {
                    waitForWritable(id, fd: fd)
                } else {
                    context.beginClosing(id, reason: .error(moved < 0 ? errno : EPIPE))
                }
                return
            }
            guard streams[i].fileRemaining > 0 else {
                let sent = streams[i].fileSent
                streams[i].file = -1
                context.streamSendFinished(id, bytes: Int(sent), file: true)
                return
            }
            let chunk = Int(min(streams[i].fileRemaining, Int64(Self.pipeBytes)))
            guard cachedRange(streams[i].file, offset: streams[i].fileOffset, length: chunk) else {
                queueFileRead(id, chunk: chunk)
                return
            }
            var offset = streams[i].fileOffset
            let read = rp_splice(streams[i].file, &offset, streams[i].pipeWrite, nil, chunk, RP_SPLICE_F_MOVE)
            guard filledPipe(id, read: read < 0 ? -Int(errno) : read) else { return }
        }
    }

    /// Whether `length` bytes at `offset` can be spliced without waiting for the disk: every
    /// page is in the page cache (`cachestat`, which also counts pages still being read in) and
    /// the last one is already read (a one-byte `RWF_NOWAIT` read; readahead fills a range in
    /// order). Pages evicted in the µs between this and the splice would still be read
    /// inline; false when the kernel cannot tell (no `cachestat` before Linux 6.5).
    private func cachedRange(_ file: Int32, offset: Int64, length: Int) -> Bool {
        guard rp_range_cached(file, UInt64(offset), UInt64(length)) == 1 else { return false }
        var byte: UInt8 = 0
        return withUnsafeMutablePointer(to: &byte) { pointer in
            var vector = iovec(iov_base: UnsafeMutableRawPointer(pointer), iov_len: 1)
            return rp_preadv2(file, &vector, 1, offset + Int64(length) - 1, RP_RWF_NOWAIT) == 1
        }
    }

    /// pipe → socket without waiting: the socket is non-blocking for this call only, and
    /// blocking again before anything else can use it.
    private func spliceToSocket(_ i: Int, fd: Int32, count: Int) -> Int {
        guard rp_set_nonblocking(fd, 1) == 0 else { return -1 }
        let moved = rp_splice(streams[i].pipeRead, nil, fd, nil, count, RP_SPLICE_F_MOVE)
        let error = errno
        _ = rp_set_nonblocking(fd, 0)
        errno = error
        return moved
    }

    /// Fills the pipe from a range not known to be read in, on an io_uring worker.
    private func queueFileRead(_ id: ConnectionID, chunk: Int) {
        let i = Int(id.index)
        context.counters.fileReadsQueued &+= 1
        let sqe = submissionEntry()
        io_uring_prep_splice(sqe, streams[i].file, streams[i].fileOffset, streams[i].pipeWrite, -1, UInt32(chunk), RP_SPLICE_F_MOVE)
        io_uring_sqe_set_data64(sqe, UserData(.fileRead, index: id.index, generation: id.generation).raw)
        connectionOperations[i] += 1
    }

    /// Accounts for a file → pipe splice (`read`: bytes, or -errno); false if the connection
    /// is closing for it. 0 means the file ended early (truncated under us): stop rather than
    /// spin.
    private func filledPipe(_ id: ConnectionID, read: Int) -> Bool {
        guard read > 0 else {
            context.beginClosing(id, reason: .error(read < 0 ? Int32(-read) : EIO))
            return false
        }
        let i = Int(id.index)
        streams[i].inPipe += read
        streams[i].fileOffset += Int64(read)
        streams[i].fileRemaining -= Int64(read)
        return true
    }

    private func waitForWritable(_ id: ConnectionID, fd: Int32) {
        let sqe = submissionEntry()
        io_uring_prep_poll_add(sqe, fd, UInt32(POLLOUT))
        io_uring_sqe_set_data64(sqe, UserData(.fileWritable, index: id.index, generation: id.generation).raw)
        connectionOperations[Int(id.index)] += 1
        linkTimeout(sqe, id)
    }

    // MARK: Zero-copy send from a mapping

    /// Bytes per send_zc. MSG_WAITALL makes the kernel finish each one (waiting for socket
    /// space itself), so a chunk costs one completion and one notification; the linked
    /// timeout applies per chunk, so a reader that stops for the idle time is cut off.
    static let zeroCopyChunk: Int64 = 4 << 20
    private func startZeroCopy(_ id: ConnectionID, fd: Int32) {
        let i = Int(id.index)
        precondition(streams[i].mapping == nil && !streams[i].zeroCopySending)
        let (file, offset, length) = (streams[i].file, streams[i].fileOffset, streams[i].fileRemaining)
        if length > 0 {
            let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
            let start = offset / page * page
            let mappingLength = Int(offset + length - start)
            guard let mapping = mmap(nil, mappingLength, PROT_READ, MAP_SHARED, file, off_t(start)), mapping != MAP_FAILED else {
                context.beginClosing(id, reason: .error(errno))
                return
            }
            _ = madvise(mapping, mappingLength, MADV_SEQUENTIAL)
            streams[i].mapping = mapping
            streams[i].mappingStart = start
            streams[i].mappingLength = mappingLength
        }
        continueZeroCopy(id, fd: fd)
    }

    /// The next chunk; or, once every byte went out and every notification is in, the end.
    private func continueZeroCopy(_ id: ConnectionID, fd: Int32) {
        let i = Int(id.index)
        if streams[i].fileRemaining > 0 {
            let chunk = Int(min(streams[i].fileRemaining, Self.zeroCopyChunk))
            let start = streams[i].mapping! + Int(streams[i].fileOffset - streams[i].mappingStart)
            let sqe = submissionEntry()
            io_uring_prep_send_zc(sqe, fd, start, chunk, Int32(MSG_NOSIGNAL) | Int32(MSG_WAITALL), 0)
            io_uring_sqe_set_data64(sqe, UserData(.zeroCopySend, index: id.index, generation: id.generation).raw)
            connectionOperations[i] += 1
            streams[i].zeroCopySending = true
            linkTimeout(sqe, id)
            return
        }
        guard streams[i].zeroCopyNotifications == 0 else { return }   // the last one finishes
        unmapFile(i)
        let sent = streams[i].fileSent
        streams[i].file = -1
        context.streamSendFinished(id, bytes: Int(sent), file: true)
    }

    /// A send_zc completion: either its result (with IORING_CQE_F_MORE when a notification
    /// will follow) or that notification (IORING_CQE_F_NOTIF), after which the kernel no longer
    /// reads the pages. Each counts in `connectionOperations`: the send from submission to its
    /// result, the notification from that result to its arrival.
    private func zeroCopySent(_ data: UserData, result: Int32, flags: UInt32) {
        let id = ConnectionID(index: data.index, generation: data.generation)
        let i = Int(id.index)
        defer { connectionOperationEnded(id) }
        // Every operation on this index is counted, so the entry is not released (nor reused)
        // before this completion: the stream state is this connection's.
        if flags & UInt32(IORING_CQE_F_NOTIF) != 0 {
            streams[i].zeroCopyNotifications -= 1
            if streams[i].zeroCopyNotifications == 0, !streams[i].zeroCopySending, streams[i].fileRemaining == 0,
               streams[i].mapping != nil, context.liveConnection(id) != nil {
                continueZeroCopy(id, fd: context.connections[i].fd)
            }
            return
        }
        streams[i].zeroCopySending = false
        if flags & UInt32(IORING_CQE_F_MORE) != 0 {
            streams[i].zeroCopyNotifications += 1
            connectionOperations[i] += 1
        }
        guard context.liveConnection(id) != nil else { return }
        if result <= 0 {
            // -ECANCELED while the connection is live: its linked timeout fired.
            let reason: CloseReason = result == -ECANCELED ? .idleTimeout : .error(result == 0 ? EIO : -result)
            context.beginClosing(id, reason: reason)
            return
        }
        streams[i].fileOffset += Int64(result)
        streams[i].fileRemaining -= Int64(result)
        streams[i].fileSent += Int64(result)
        context.streamActivity(id)
        continueZeroCopy(id, fd: context.connections[i].fd)
    }

    private func unmapFile(_ i: Int) {
        guard let mapping = streams[i].mapping else { return }
        munmap(mapping, streams[i].mappingLength)
        streams[i].mapping = nil
        streams[i].mappingLength = 0
    }

    // MARK: The loop

    func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeDescriptor, &one, 8)
    }

    private func armWake() {
        let sqe = submissionEntry()
        io_uring_prep_poll_multishot(sqe, wakeDescriptor, UInt32(POLLIN))
        io_uring_sqe_set_data64(sqe, UserData(.wakeup, index: 0).raw)
        wakeArmed = true
    }

    private var inFlight: Int {
        slotOperations + otherOperations + socketOperations.reduce(0) { $0 + Int($1) } + connectionOperations.reduce(0) { $0 + Int($1) }
    }

    /// How many completions a batched wait asks for before its window is up.
    static let coalesceBatch: UInt32 = 64

    func run() throws(SystemError) {
        armWake()
        var timeout = __kernel_timespec()
        while true {
            context.advanceClock()
            if thread.shouldStop, !context.isStopping { context.beginShutdown() }
            if context.isStopping, !context.hasOpenDescriptors, slotOperations == 0, otherOperations == 0 { break }
            fileBytesThisTurn = Self.fileBytesPerTurn
            // Files a handler queued in `batchEnded` or a timer.
            startQueuedFiles()
            let result: Int32
            var first: UnsafeMutablePointer<io_uring_cqe>?
            let limit = context.waitLimit()
            if let limit {
                timeout.tv_sec = Int64(limit / 1000)
                timeout.tv_nsec = Int64(limit % 1000) * 1_000_000
            }
            context.batching.advance(now: context.now)
            let coalesce = context.batching.microseconds
            if coalesce > 0, !context.isLatencySensitive {
                result = limit == nil ? rp_uring_submit_and_wait_min(ring, Self.coalesceBatch, coalesce, nil)
                    : rp_uring_submit_and_wait_min(ring, Self.coalesceBatch, coalesce, &timeout)
                if result == -EINVAL {
                    // A kernel before 6.12 refuses min_wait_usec: wait one by one from now on.
                    print("ring \(context.index): batched waiting refused by the kernel (EINVAL); waiting for one completion at a time")
                    context.batching.disable()
                    continue
                }
                context.counters.coalescedWaits &+= 1
            } else if limit != nil {
                result = io_uring_submit_and_wait_timeout(ring, &first, 1, &timeout, nil)
            } else {
                result = io_uring_submit_and_wait(ring, 1)
            }
            if result < 0, result != -ETIME, result != -EINTR {
                if result == -EBUSY {
                    context.counters.submitBusy &+= 1
                } else {
                    throw SystemError(errno: -result, call: "io_uring_submit_and_wait")
                }
            }
            context.now = MonotonicClock.milliseconds()
            reap()
            if ring.pointee.sq.kflags.pointee & UInt32(IORING_SQ_CQ_OVERFLOW) != 0 {
                context.counters.completionOverflows &+= 1
                _ = io_uring_get_events(ring)
                reap()
            }
            // Files queued by this batch's completions start inside the batch.
            startQueuedFiles()
            context.counters.batches &+= 1
            context.handler.batchEnded(ring: context)
        }
    }

    /// Handles every completion available, in batches, then hands buffers back and re-arms
    /// receives that ended (buffer shortage, or a multishot the kernel stopped).
    private func reap() {
        while true {
            let count = Int(io_uring_peek_batch_cqe(ring, completions, UInt32(Self.completionBatch)))
            if count == 0 { break }
            for k in 0..<count {
                let cqe = completions[k]!.pointee
                handle(UserData(raw: cqe.user_data), result: cqe.res, flags: cqe.flags)
            }
            io_uring_cq_advance(ring, UInt32(count))
        }
        datagramBuffers.commit()
        streamBuffers.commit()
        if !socketsToRearm.isEmpty {
            for id in socketsToRearm where context.isCurrent(id) {
                armDatagramSocket(id, fd: context.sockets[Int(id.index)].fd)
            }
            socketsToRearm.removeAll(keepingCapacity: true)
        }
        if !connectionsToRearm.isEmpty {
            for id in connectionsToRearm where context.liveConnection(id) != nil {
                armConnection(id, fd: context.connections[Int(id.index)].fd)
            }
            connectionsToRearm.removeAll(keepingCapacity: true)
        }
    }

    @inline(__always)
    private func handle(_ data: UserData, result: Int32, flags: UInt32) {
        let more = flags & UInt32(IORING_CQE_F_MORE) != 0
        switch data.operation {
        case .datagramReceive:
            datagramReceived(data, result: result, flags: flags, more: more)
        case .datagramSend, .frameSend:
            slotOperations -= 1
            context.slots.release(Int32(data.index))
            if result < 0 {
                context.counters.datagramSendErrors &+= 1
            } else if data.operation == .frameSend {
                context.counters.framesSent &+= 1
            } else {
                context.counters.datagramsSent &+= 1
            }
        case .segmentedSend:
            slotOperations -= 1
            context.slots.release(Int32(data.index))
            if result >= 0 {
                context.counters.datagramsSent &+= UInt64(data.generation)
                context.counters.segmentedSends &+= 1
            } else {
                context.counters.datagramSendErrors &+= UInt64(data.generation)
                if result == -EIO || result == -EINVAL || result == -EOPNOTSUPP || result == -ENOPROTOOPT, !segmentationRefused {
                    // Lost datagrams are retransmitted by their service's timer.
                    segmentationRefused = true
                    print("ring \(context.index): segmented UDP sends refused by the kernel (\(SystemError(errno: -result, call: "sendmsg UDP_SEGMENT"))); sending datagram by datagram from now on")
                }
            }
        case .accept:
            accepted(data, result: result, more: more)
        case .streamReceive:
            streamReceived(data, result: result, flags: flags, more: more)
        case .streamSend:
            streamSent(data, result: result)
        case .fileRead:
            fileReadCompleted(data, result: result)
        case .fileWritable:
            becameWritable(data, result: result)
        case .linkTimeout:
            connectionOperationEnded(ConnectionID(index: data.index, generation: data.generation))
        case .wakeup:
            var value: UInt64 = 0
            _ = Glibc.read(wakeDescriptor, &value, 8)
            if !more { armWake() }
        case .cancel:
            otherOperations -= 1
        case .zeroCopySend:
            zeroCopySent(data, result: result, flags: flags)
        case .timeout, .none:
            break
        }
    }

    private func socketOperationEnded(_ id: SocketID) {
        let i = Int(id.index)
        socketOperations[i] -= 1
        if socketOperations[i] == 0, context.sockets[i].closing, context.sockets[i].generation == id.generation {
            context.socketReleased(id)
        }
    }

    private func connectionOperationEnded(_ id: ConnectionID) {
        let i = Int(id.index)
        connectionOperations[i] -= 1
        if connectionOperations[i] == 0, context.isCurrent(id), context.connections[i].closing {
            releaseConnection(id)
        }
    }

    private func datagramReceived(_ data: UserData, result: Int32, flags: UInt32, more: Bool) {
        let id = SocketID(index: data.index, generation: data.generation)
        if flags & UInt32(IORING_CQE_F_BUFFER) != 0 {
            let bufferID = UInt16(truncatingIfNeeded: flags >> UInt32(IORING_CQE_BUFFER_SHIFT))
            if result > 0, context.isCurrent(id) {
                deliverDatagram(id, buffer: datagramBuffers.buffer(bufferID), length: result)
            }
            datagramBuffers.recycle(bufferID)
        } else if result == -ENOBUFS {
            context.counters.receiveBuffersExhausted &+= 1
        }
        if !more {
            socketOperationEnded(id)
            // A receive the kernel ended (no buffers, or any other reason) is started again
            // after this batch's buffers are back — unless the socket is closing.
            if context.isCurrent(id), socketOperations[Int(id.index)] == 0 { socketsToRearm.append(id) }
        }
    }

    @inline(__always)
    private func deliverDatagram(_ id: SocketID, buffer: UnsafeMutableRawPointer, length: Int32) {
        let header = receiveHeaders + Int(id.index)
        guard let out = io_uring_recvmsg_validate(buffer, length, header) else { return }
        var source = IPv4Endpoint(address: 0, port: 0)
        if out.pointee.namelen >= UInt32(MemoryLayout<sockaddr_in>.size) {
            source = IPv4Endpoint(io_uring_recvmsg_name(out).loadUnaligned(as: sockaddr_in.self))
        }
        var destination: UInt32 = 0
        var local: UInt32 = 0
        var interface: Int32 = 0
        var cmsg = io_uring_recvmsg_cmsg_firsthdr(out, header)
        while let c = cmsg {
            if c.pointee.cmsg_level == Int32(IPPROTO_IP), c.pointee.cmsg_type == Int32(IP_PKTINFO) {
                let info = UnsafeRawPointer(rp_cmsg_data(c)).loadUnaligned(as: in_pktinfo.self)
                interface = info.ipi_ifindex
                local = UInt32(bigEndian: info.ipi_spec_dst.s_addr)
                destination = UInt32(bigEndian: info.ipi_addr.s_addr)
            }
            cmsg = io_uring_recvmsg_cmsg_nexthdr(out, header, c)
        }
        let payload = UnsafeRawBufferPointer(start: io_uring_recvmsg_payload(out, header),
                                             count: Int(io_uring_recvmsg_payload_length(out, length, header)))
        let truncated = out.pointee.flags & UInt32(MSG_TRUNC) != 0
        context.counters.datagramsReceived &+= 1
        if truncated { context.counters.datagramsTruncated &+= 1 }
        context.noteArrival(on: id)
        context.handler.received(
            ReceivedDatagram(socket: id, payload: payload, source: source, destinationAddress: destination,
                             localAddress: local, interfaceIndex: interface, truncated: truncated),
            ring: context)
    }

    private func accepted(_ data: UserData, result: Int32, more: Bool) {
        let listener = SocketID(index: data.index, generation: data.generation)
        if result >= 0 {
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(result, $0, &length) }
            }
            var one: Int32 = 1
            _ = setsockopt(result, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            context.connectionAccepted(fd: result, listener: listener, peer: IPv4Endpoint(peer))
        }
        if !more {
            socketOperationEnded(listener)
            if context.isCurrent(listener), socketOperations[Int(listener.index)] == 0 {
                armListener(listener, fd: context.sockets[Int(listener.index)].fd)
            }
        }
    }

    private func streamReceived(_ data: UserData, result: Int32, flags: UInt32, more: Bool) {
        let id = ConnectionID(index: data.index, generation: data.generation)
        if flags & UInt32(IORING_CQE_F_BUFFER) != 0 {
            let bufferID = UInt16(truncatingIfNeeded: flags >> UInt32(IORING_CQE_BUFFER_SHIFT))
            if result > 0 {
                context.streamReceived(id, bytes: UnsafeRawBufferPointer(start: streamBuffers.buffer(bufferID), count: Int(result)))
            }
            streamBuffers.recycle(bufferID)
        }
        if result == 0 {
            context.beginClosing(id, reason: .peerClosed)
        } else if result == -ENOBUFS {
            context.counters.receiveBuffersExhausted &+= 1
        } else if result < 0, result != -ECANCELED {
            context.beginClosing(id, reason: .error(-result))
        }
        if !more {
            let rearm = result != 0 && (result > 0 || result == -ENOBUFS)
            if rearm, context.liveConnection(id) != nil { connectionsToRearm.append(id) }
            connectionOperationEnded(id)
        }
    }

    private func streamSent(_ data: UserData, result: Int32) {
        let id = ConnectionID(index: data.index, generation: data.generation)
        let i = Int(id.index)
        defer { connectionOperationEnded(id) }
        guard context.liveConnection(id) != nil else { return }
        if result < 0 {
            context.beginClosing(id, reason: result == -ECANCELED ? .idleTimeout : .error(-result))
            return
        }
        streams[i].sent += Int(result)
        context.streamActivity(id)
        if streams[i].sent < streams[i].length {
            submitStreamSend(id, fd: context.connections[i].fd)
            return
        }
        let slot = streams[i].slot
        streams[i].slot = -1
        context.slots.release(slot)
        context.streamSendFinished(id, bytes: streams[i].length, file: false)
    }

    private func fileReadCompleted(_ data: UserData, result: Int32) {
        let id = ConnectionID(index: data.index, generation: data.generation)
        defer { connectionOperationEnded(id) }
        guard context.liveConnection(id) != nil, filledPipe(id, read: Int(result)) else { return }
        continueFile(id, fd: context.connections[Int(id.index)].fd)
    }

    private func becameWritable(_ data: UserData, result: Int32) {
        let id = ConnectionID(index: data.index, generation: data.generation)
        defer { connectionOperationEnded(id) }
        guard context.liveConnection(id) != nil else { return }
        if result < 0 {
            // -ECANCELED: the linked timeout fired (the reader stopped) or the connection closes.
            context.beginClosing(id, reason: result == -ECANCELED ? .idleTimeout : .error(-result))
            return
        }
        // POLLERR or POLLHUP too: the splice reports the error.
        continueFile(id, fd: context.connections[Int(id.index)].fd)
    }
}
