import CLinuxShims
import Glibc

/// The fallback backend, for hosts where io_uring is disabled (sysctl, seccomp, old kernels):
/// one epoll set per ring, `recvmmsg`/`sendmmsg` for datagrams, `send`/`sendfile` for streams,
/// and an eventfd so another thread can interrupt the wait.
///
/// **Level-triggered**, deliberately. Each readiness event gets one bounded unit of work (one
/// `recvmmsg` batch, up to `acceptBatch` accepts, one `recv`, one capped write turn) and
/// whatever is left is reported again by the next `epoll_wait`. So a flooded socket cannot
/// starve the others, and no socket must be drained to `EAGAIN` — the edge-triggered contract,
/// where one forgotten drain is a silent hang. The price (ready sockets stay on the ready list,
/// `EPOLLOUT` must be switched off once a write is done) is an `epoll_ctl` per partial stream
/// write, cheap beside the receive calls it saves.
///
/// Every registration's `data.u64` is a `UserData` (operation, generation, index), the same
/// layout the io_uring backend uses for `user_data`: an event for a socket or connection closed
/// earlier in the same batch (its table entry's generation moved on) is recognised and ignored.
///
/// Nothing is allocated per datagram: receive buffers, message headers, addresses and control
/// data for both directions are allocated once in `init`. Stream writes are never performed
/// inside the handler's call (a finished write would re-enter the handler through
/// `sendCompleted`); they are queued and run right after the event that asked for them.
final class EpollDriver: RingDriver {
    let name = "epoll"
    unowned let context: RingContext
    unowned let thread: RingThread

    private let epollFD: Int32
    /// eventfd: `wake()` adds 1 from any thread; the ring reads it back to 0.
    private let wakeFD: Int32
    /// The AF_PACKET socket for `sendFrame`, opened on first use (-1 until then).
    private var packetFD: Int32 = -1

    // epoll_wait's output.
    private let eventCapacity = 256
    private let events: UnsafeMutablePointer<epoll_event>

    // Datagram receive: `receiveBatch` buffers of `receiveSize` bytes, each with its header,
    // iovec, source address and control space. The handler consumes a datagram before the next
    // recvmmsg, so one batch's worth of buffers is all a ring needs.
    private let receiveBatch: Int
    private let receiveSize: Int
    private let receiveMemory: UnsafeMutableRawPointer
    private let receiveHeaders: UnsafeMutablePointer<rp_mmsghdr>
    private let receiveVectors: UnsafeMutablePointer<iovec>
    private let receiveNames: UnsafeMutablePointer<sockaddr_in>
    private let receiveControl: UnsafeMutableRawPointer
    /// Room for IP_PKTINFO and anything else a socket option might add (IP_TTL, IP_TOS…).
    private static let receiveControlSpace = 128

    // Datagram send: one sendmmsg batch for one descriptor at a time.
    private let sendBatch: Int
    private let sendHeaders: UnsafeMutablePointer<rp_mmsghdr>
    private let sendVectors: UnsafeMutablePointer<iovec>      // two per message: slot, extra
    private let sendNames: UnsafeMutablePointer<sockaddr_in>
    private let sendControl: UnsafeMutableRawPointer
    private let sendSlots: UnsafeMutablePointer<Int32>
    private let pktinfoSpace: Int                             // CMSG_SPACE(sizeof(in_pktinfo))
    private let pktinfoLength: Int                            // CMSG_LEN(sizeof(in_pktinfo))
    private let pktinfoDataOffset: Int                        // CMSG_DATA - cmsghdr
    private var sendCount = 0
    private var sendFD: Int32 = -1

    // Streams: one receive buffer, and at most one write in progress per connection.
    private let streamBuffer: UnsafeMutableRawBufferPointer

    private struct StreamWrite {
        var active = false
        var generation: UInt32 = 0
        /// The send slot being written, or -1 for a file range.
        var slot: Int32 = -1
        var written = 0
        var length = 0
        var file: Int32 = -1
        var fileOffset: Int64 = 0
        var fileRemaining: Int64 = 0
        var fileTotal: Int64 = 0
        /// EPOLLOUT is on for this connection.
        var waitingWritable = false
        /// Registering the connection failed with this errno: close it from the loop.
        var registrationError: Int32 = 0
    }

    private var streamWrites: [StreamWrite]
    /// Connections with a write to attempt (or a failure to report) after the current event.
    private var writeQueue: [ConnectionID] = []
    private var writeScratch: [ConnectionID] = []

    /// Accepts per listener readiness event, so a connection storm does not stall the ring.
    private let acceptBatch = 64
    /// File bytes written per connection per turn before the others get theirs.
    private let fileBytesPerTurn: Int64 = 1 << 20

    init(context: RingContext, thread: RingThread) throws(SystemError) {
        self.context = context
        self.thread = thread
        let configuration = context.configuration

        let epollFD = try system("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        let wakeFD: Int32
        do throws(SystemError) {
            wakeFD = try system("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
            var event = epoll_event()
            event.events = EPOLLIN.rawValue
            event.data.u64 = UserData(.wakeup, index: 0).raw
            do throws(SystemError) {
                _ = try system("epoll_ctl") { epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) }
            } catch {
                Glibc.close(wakeFD)
                throw error
            }
        } catch {
            Glibc.close(epollFD)
            throw error
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD

        events = .allocate(capacity: eventCapacity)
        events.initialize(repeating: epoll_event(), count: eventCapacity)

        let receiveBatch = max(1, min(64, configuration.datagramBuffers))
        let receiveSize = max(1, configuration.datagramBufferSize)
        let receiveMemory = UnsafeMutableRawPointer.allocate(byteCount: receiveBatch * receiveSize, alignment: 64)
        let receiveHeaders = UnsafeMutablePointer<rp_mmsghdr>.allocate(capacity: receiveBatch)
        let receiveVectors = UnsafeMutablePointer<iovec>.allocate(capacity: receiveBatch)
        let receiveNames = UnsafeMutablePointer<sockaddr_in>.allocate(capacity: receiveBatch)
        let receiveControl = UnsafeMutableRawPointer.allocate(byteCount: receiveBatch * Self.receiveControlSpace, alignment: 16)
        receiveNames.initialize(repeating: sockaddr_in(), count: receiveBatch)
        for k in 0..<receiveBatch {
            (receiveVectors + k).initialize(to: iovec(iov_base: receiveMemory + k * receiveSize, iov_len: receiveSize))
            var header = rp_mmsghdr()
            header.msg_hdr.msg_name = UnsafeMutableRawPointer(receiveNames + k)
            header.msg_hdr.msg_iov = receiveVectors + k
            header.msg_hdr.msg_iovlen = 1
            header.msg_hdr.msg_control = receiveControl + k * Self.receiveControlSpace
            (receiveHeaders + k).initialize(to: header)
        }
        self.receiveBatch = receiveBatch
        self.receiveSize = receiveSize
        self.receiveMemory = receiveMemory
        self.receiveHeaders = receiveHeaders
        self.receiveVectors = receiveVectors
        self.receiveNames = receiveNames
        self.receiveControl = receiveControl

        let sendBatch = 64
        self.sendBatch = sendBatch
        let pktinfoSpace = rp_cmsg_space(MemoryLayout<in_pktinfo>.size)
        self.pktinfoSpace = pktinfoSpace
        pktinfoLength = rp_cmsg_len(MemoryLayout<in_pktinfo>.size)
        sendHeaders = .allocate(capacity: sendBatch)
        sendHeaders.initialize(repeating: rp_mmsghdr(), count: sendBatch)
        sendVectors = .allocate(capacity: 2 * sendBatch)
        sendVectors.initialize(repeating: iovec(), count: 2 * sendBatch)
        sendNames = .allocate(capacity: sendBatch)
        sendNames.initialize(repeating: sockaddr_in(), count: sendBatch)
        let sendControl = UnsafeMutableRawPointer.allocate(byteCount: sendBatch * pktinfoSpace, alignment: 16)
        sendControl.initializeMemory(as: UInt8.self, repeating: 0, count: sendBatch * pktinfoSpace)
        self.sendControl = sendControl
        sendSlots = .allocate(capacity: sendBatch)
        sendSlots.initialize(repeating: -1, count: sendBatch)
        let probe = sendControl.assumingMemoryBound(to: cmsghdr.self)
        pktinfoDataOffset = UnsafeMutableRawPointer(rp_cmsg_data(probe)!) - UnsafeMutableRawPointer(probe)

        streamBuffer = .allocate(byteCount: max(1, configuration.streamBufferSize), alignment: 64)
        streamWrites = []  // grown as connections arrive (`armConnection`)
        writeQueue.reserveCapacity(configuration.maxConnections)
        writeScratch.reserveCapacity(configuration.maxConnections)
        resetReceiveHeaders(count: receiveBatch)
    }

    deinit { deallocate() }

    private func deallocate() {
        if packetFD >= 0 { Glibc.close(packetFD) }
        Glibc.close(wakeFD)
        Glibc.close(epollFD)
        events.deallocate()
        receiveMemory.deallocate()
        receiveHeaders.deallocate()
        receiveVectors.deallocate()
        receiveNames.deallocate()
        receiveControl.deallocate()
        sendHeaders.deallocate()
        sendVectors.deallocate()
        sendNames.deallocate()
        sendControl.deallocate()
        sendSlots.deallocate()
        streamBuffer.deallocate()
    }

    // MARK: Descriptors

    func makeUDPSocket(_ options: UDPSocketOptions) throws(SystemError) -> Int32 { try Sockets.udp(options) }
    func makeListener(_ options: TCPListenerOptions) throws(SystemError) -> Int32 { try Sockets.tcpListener(options) }
    func localEndpoint(_ fd: Int32) throws(SystemError) -> IPv4Endpoint { try Sockets.localEndpoint(fd) }
    func closeDescriptor(_ fd: Int32) { Glibc.close(fd) }

    /// Adds or modifies a registration; returns the errno on failure.
    private func register(_ fd: Int32, _ tag: UserData, events: UInt32, operation: Int32) -> Int32? {
        var event = epoll_event()
        event.events = events
        event.data.u64 = tag.raw
        guard epoll_ctl(epollFD, operation, fd, &event) != 0 else { return nil }
        let error = errno
        precondition(error != EBADF && error != EFAULT, "epoll_ctl failed with errno \(error): a bug")
        return error
    }

    private func unregister(_ fd: Int32) {
        // ENOENT (never registered) is harmless; close would drop the registration anyway.
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
    }

    func armDatagramSocket(_ id: SocketID, fd: Int32) {
        if let error = register(fd, UserData(.datagramReceive, index: id.index, generation: id.generation),
                                events: EPOLLIN.rawValue, operation: EPOLL_CTL_ADD) {
            // Only ENOMEM/ENOSPC (fs.epoll.max_user_watches) get here; the socket stays open but deaf.
            print("ring \(context.index): epoll_ctl(ADD) on a UDP socket failed, errno \(error)")
        }
    }

    func armListener(_ id: SocketID, fd: Int32) {
        if let error = register(fd, UserData(.accept, index: id.index, generation: id.generation),
                                events: EPOLLIN.rawValue, operation: EPOLL_CTL_ADD) {
            print("ring \(context.index): epoll_ctl(ADD) on a listener failed, errno \(error)")
        }
    }

    func armConnection(_ id: ConnectionID, fd: Int32) {
        let i = Int(id.index)
        streamWrites.grow(toInclude: i, with: StreamWrite())
        streamWrites[i] = StreamWrite()
        streamWrites[i].generation = id.generation
        if let error = register(fd, UserData(.streamReceive, index: id.index, generation: id.generation),
                                events: EPOLLIN.rawValue, operation: EPOLL_CTL_ADD) {
            // Called before the handler hears `accepted`: report the failure from the loop, so
            // `closed` never comes before `accepted`.
            streamWrites[i].registrationError = error
            writeQueue.append(id)
        }
    }

    func disarmSocket(_ id: SocketID, fd: Int32) {
        // Datagrams the handler sent before closing still leave: flush rather than drop them
        // (a TFTP transfer sends its last ACK and closes in the same call).
        if sendCount > 0 && sendFD == fd { flushDatagrams() }
        unregister(fd)
        context.socketReleased(id)
    }

    func disarmConnection(_ id: ConnectionID, fd: Int32) {
        let i = Int(id.index)
        if streamWrites[i].active && streamWrites[i].generation == id.generation {
            if streamWrites[i].slot >= 0 { context.slots.release(streamWrites[i].slot) }
        }
        streamWrites[i] = StreamWrite()
        unregister(fd)
        context.connectionReleased(id)
    }

    // MARK: Datagrams

    @inline(__always)
    private func resetReceiveHeaders(count: Int) {
        for k in 0..<count {
            receiveHeaders[k].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            receiveHeaders[k].msg_hdr.msg_controllen = Self.receiveControlSpace
            receiveHeaders[k].msg_hdr.msg_flags = 0
            receiveHeaders[k].msg_len = 0
        }
    }

    /// One recvmmsg batch from a readable UDP socket, each datagram handed to the handler.
    /// (Hot-path call names stay within 15 UTF-8 bytes: `SystemError.call` is then a small
    /// string, so even a failure allocates nothing.)
    private func receiveDatagrams(_ id: SocketID, fd: Int32) {
        let received: Int32
        do throws(SystemError) {
            received = try system("recvmmsg") { rp_recvmmsg(fd, receiveHeaders, UInt32(receiveBatch), Int32(MSG_DONTWAIT)) }
        } catch {
            // EAGAIN: nothing after all. Anything else is a queued ICMP error (ECONNREFUSED on a
            // connected socket) that this call has now consumed.
            return
        }
        let count = Int(received)
        defer { resetReceiveHeaders(count: count) }
        for k in 0..<count {
            // The handler may close the socket while handling an earlier datagram of the batch.
            guard context.isCurrent(id) else { return }
            let header = receiveHeaders + k
            let flags = header.pointee.msg_hdr.msg_flags
            let truncated = flags & Int32(MSG_TRUNC) != 0
            let length = min(Int(header.pointee.msg_len), receiveSize)
            var source = IPv4Endpoint(address: 0, port: 0)
            if header.pointee.msg_hdr.msg_namelen >= socklen_t(MemoryLayout<sockaddr_in>.size) {
                source = IPv4Endpoint(receiveNames[k])
            }
            var destinationAddress: UInt32 = 0
            var localAddress: UInt32 = 0
            var interfaceIndex: Int32 = 0
            let message = UnsafeMutableRawPointer(header).assumingMemoryBound(to: msghdr.self)
            var control = rp_cmsg_firsthdr(message)
            while let cmsg = control {
                if cmsg.pointee.cmsg_level == Int32(IPPROTO_IP) && cmsg.pointee.cmsg_type == IP_PKTINFO {
                    let info = UnsafeRawPointer(rp_cmsg_data(cmsg)!).loadUnaligned(as: in_pktinfo.self)
                    destinationAddress = UInt32(bigEndian: info.ipi_addr.s_addr)
                    localAddress = UInt32(bigEndian: info.ipi_spec_dst.s_addr)
                    interfaceIndex = info.ipi_ifindex
                    break
                }
                control = rp_cmsg_nxthdr(message, cmsg)
            }
            let counters = context.counters
            counters.datagramsReceived &+= 1
            if truncated { counters.datagramsTruncated &+= 1 }
            let datagram = ReceivedDatagram(
                socket: id, payload: UnsafeRawBufferPointer(start: receiveMemory + k * receiveSize, count: length),
                source: source, destinationAddress: destinationAddress, localAddress: localAddress,
                interfaceIndex: interfaceIndex, truncated: truncated)
            context.handler.received(datagram, ring: context)
        }
    }

    func sendDatagram(fd: Int32, slot: Int32, length: Int, extra: UnsafeRawBufferPointer?,
                      destination: IPv4Endpoint, source: UInt32, interfaceIndex: Int32) {
        if sendCount > 0 && sendFD != fd { flushDatagrams() }
        let k = sendCount
        let slotBuffer = context.slots.buffer(slot)
        sendVectors[2 * k] = iovec(iov_base: slotBuffer.baseAddress, iov_len: length)
        var vectorCount = 1
        if let extra, extra.count > 0 {
            sendVectors[2 * k + 1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: extra.baseAddress), iov_len: extra.count)
            vectorCount = 2
        }
        let header = sendHeaders + k
        header.pointee.msg_hdr.msg_iov = sendVectors + 2 * k
        header.pointee.msg_hdr.msg_iovlen = vectorCount
        header.pointee.msg_hdr.msg_flags = 0
        header.pointee.msg_len = 0
        if destination.address == 0 && destination.port == 0 {
            // No destination: a connected socket's own peer.
            header.pointee.msg_hdr.msg_name = nil
            header.pointee.msg_hdr.msg_namelen = 0
        } else {
            sendNames[k] = destination.sockaddr
            header.pointee.msg_hdr.msg_name = UnsafeMutableRawPointer(sendNames + k)
            header.pointee.msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        if source != 0 || interfaceIndex != 0 {
            let control = sendControl + k * pktinfoSpace
            let cmsg = control.assumingMemoryBound(to: cmsghdr.self)
            cmsg.pointee.cmsg_len = pktinfoLength
            cmsg.pointee.cmsg_level = Int32(IPPROTO_IP)
            cmsg.pointee.cmsg_type = IP_PKTINFO
            var info = in_pktinfo()
            info.ipi_ifindex = interfaceIndex
            info.ipi_spec_dst.s_addr = source.bigEndian
            (control + pktinfoDataOffset).storeBytes(of: info, as: in_pktinfo.self)
            header.pointee.msg_hdr.msg_control = control
            header.pointee.msg_hdr.msg_controllen = pktinfoSpace
        } else {
            header.pointee.msg_hdr.msg_control = nil
            header.pointee.msg_hdr.msg_controllen = 0
        }
        sendSlots[k] = slot
        sendFD = fd
        sendCount = k + 1
        if sendCount == sendBatch { flushDatagrams() }
    }

    /// Sends the queued batch with as few sendmmsg calls as the kernel allows, then gives the
    /// slots back. UDP has no back-pressure worth waiting for: a full socket buffer drops.
    private func flushDatagrams() {
        guard sendCount > 0 else { return }
        let counters = context.counters
        var start = 0
        while start < sendCount {
            // Not through `system()`: EFAULT is not our bug here. A datagram's appended bytes may
            // come from a file mapping (TFTP), and a file truncated under its mapping faults in
            // the kernel's copy — the transfer fails (as it does on io_uring), the rack does not.
            let sent = rp_sendmmsg(sendFD, sendHeaders + start, UInt32(sendCount - start), Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if sent >= 0 {
                counters.datagramsSent &+= UInt64(sent)
                start += Int(max(sent, 1))
                continue
            }
            let error = errno
            if error == EINTR { continue }
            precondition(error != EBADF, "sendmmsg on a closed descriptor: a bug")
            if error == EAGAIN || error == ENOBUFS {
                counters.datagramSendErrors &+= UInt64(sendCount - start)
                break
            }
            // This message failed (EFAULT from a shrunken file, EACCES to a broadcast,
            // ENETUNREACH, EINVAL…): skip it.
            counters.datagramSendErrors &+= 1
            start += 1
        }
        for k in 0..<sendCount { context.slots.release(sendSlots[k]) }
        sendCount = 0
        sendFD = -1
    }

    /// The fallback sends datagram by datagram (`sendmmsg` batches them anyway).
    func segmentLimit(headerLength: Int, chunk: Int) -> Int { 1 }

    func sendSegmented(fd: Int32, slot: Int32, headerLength: Int, count: Int, body: UnsafeRawBufferPointer, chunk: Int,
                       destination: IPv4Endpoint) {
        preconditionFailure("segmentLimit is 1 on epoll")
    }

    func sendFrame(slot: Int32, length: Int, interfaceIndex: Int32, destinationMAC: UInt64) throws(SystemError) {
        defer { context.slots.release(slot) }
        if packetFD < 0 { packetFD = try Sockets.packet() }
        var address = sockaddr_ll()
        address.sll_family = UInt16(AF_PACKET)
        address.sll_protocol = UInt16(ETH_P_IP).bigEndian
        address.sll_ifindex = interfaceIndex
        address.sll_halen = 6
        withUnsafeMutableBytes(of: &address.sll_addr) { bytes in
            for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: destinationMAC >> UInt64(40 - 8 * i)) }
        }
        let buffer = context.slots.buffer(slot)
        let fd = packetFD
        do throws(SystemError) {
            _ = try system("sendto(packet)") {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, buffer.baseAddress, length, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_ll>.size))
                    }
                }
            }
        } catch {
            context.counters.datagramSendErrors &+= 1
            throw error
        }
        context.counters.framesSent &+= 1
    }

    // MARK: Streams

    private func acceptConnections(_ listener: SocketID, fd: Int32) {
        for _ in 0..<acceptBatch {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let connection: Int32
            do throws(SystemError) {
                connection = try system("accept4") {
                    withUnsafeMutablePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            rp_accept4(fd, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                        }
                    }
                }
            } catch {
                switch error.errno {
                case ECONNABORTED, EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH:
                    continue    // that connection died in the queue; the next may be fine
                case EAGAIN:
                    return
                default:
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM: out of resources. Level-triggered epoll
                    // retries on the next wait.
                    context.counters.connectionsRefused &+= 1
                    return
                }
            }
            var one: Int32 = 1
            _ = setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            context.connectionAccepted(fd: connection, listener: listener, peer: IPv4Endpoint(address))
            // The handler may have closed the listener from `accepted`.
            guard context.isCurrent(listener) else { return }
        }
    }

    private func receiveStream(_ id: ConnectionID, fd: Int32) {
        let buffer = streamBuffer
        let received: Int
        do throws(SystemError) {
            received = try system("recv") { recv(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT)) }
        } catch {
            if error.errno == EAGAIN { return }
            context.beginClosing(id, reason: .error(error.errno))
            return
        }
        if received == 0 {
            context.beginClosing(id, reason: .peerClosed)
            return
        }
        context.streamReceived(id, bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<received]))
    }

    func streamSend(_ id: ConnectionID, fd: Int32, slot: Int32, length: Int) {
        let i = Int(id.index)
        streamWrites[i].active = true
        streamWrites[i].generation = id.generation
        streamWrites[i].slot = slot
        streamWrites[i].written = 0
        streamWrites[i].length = length
        streamWrites[i].file = -1
        writeQueue.append(id)
    }

    func streamSendFile(_ id: ConnectionID, fd: Int32, file: Int32, offset: Int64, length: Int64) {
        let i = Int(id.index)
        streamWrites[i].active = true
        streamWrites[i].generation = id.generation
        streamWrites[i].slot = -1
        streamWrites[i].file = file
        streamWrites[i].fileOffset = offset
        streamWrites[i].fileRemaining = length
        streamWrites[i].fileTotal = length
        writeQueue.append(id)
    }

    /// Attempts the writes queued since the last call. Completions reach the handler, which may
    /// queue more; those wait for the next turn (the loop then does not block in epoll_wait).
    private func runQueuedWrites() {
        guard !writeQueue.isEmpty else { return }
        swap(&writeQueue, &writeScratch)
        for id in writeScratch { continueWrite(id) }
        writeScratch.removeAll(keepingCapacity: true)
    }

    /// Writes as much of the connection's pending send as the socket takes; on `EAGAIN` waits
    /// for EPOLLOUT; when done, reports the completion.
    private func continueWrite(_ id: ConnectionID) {
        let i = Int(id.index)
        guard streamWrites[i].generation == id.generation, context.isCurrent(id) else { return }
        if streamWrites[i].registrationError != 0 {
            let error = streamWrites[i].registrationError
            streamWrites[i].registrationError = 0
            context.beginClosing(id, reason: .error(error))
            return
        }
        guard streamWrites[i].active, context.liveConnection(id) != nil else { return }
        let fd = context.connections[i].fd

        if streamWrites[i].slot >= 0 {
            let buffer = context.slots.buffer(streamWrites[i].slot)
            while streamWrites[i].written < streamWrites[i].length {
                let written = streamWrites[i].written
                let count = streamWrites[i].length - written
                do throws(SystemError) {
                    let sent = try system("send") {
                        send(fd, buffer.baseAddress! + written, count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                    }
                    streamWrites[i].written += sent
                } catch {
                    writeFailed(id, fd: fd, errno: error.errno, progressed: written > 0)
                    return
                }
            }
            let length = streamWrites[i].length
            context.slots.release(streamWrites[i].slot)
            finishWrite(id, fd: fd, bytes: length, file: false)
            return
        }

        var budget = fileBytesPerTurn
        var progressed = false
        while streamWrites[i].fileRemaining > 0 {
            if budget <= 0 {
                // Still writable, most likely: EPOLLOUT brings the rest back after the others.
                context.streamActivity(id)
                waitForWritable(id, fd: fd)
                return
            }
            var offset = off_t(streamWrites[i].fileOffset)
            let count = Int(min(streamWrites[i].fileRemaining, budget))
            let file = streamWrites[i].file
            do throws(SystemError) {
                let sent = try system("sendfile") { sendfile(fd, file, &offset, count) }
                if sent == 0 {
                    // The file is shorter than the range: the transfer cannot complete.
                    writeFailed(id, fd: fd, errno: EIO, progressed: progressed)
                    return
                }
                streamWrites[i].fileOffset = Int64(offset)
                streamWrites[i].fileRemaining -= Int64(sent)
                budget -= Int64(sent)
                progressed = true
            } catch {
                writeFailed(id, fd: fd, errno: error.errno, progressed: progressed)
                return
            }
        }
        finishWrite(id, fd: fd, bytes: Int(streamWrites[i].fileTotal), file: true)
    }

    private func writeFailed(_ id: ConnectionID, fd: Int32, errno error: Int32, progressed: Bool) {
        if error == EAGAIN {
            if progressed { context.streamActivity(id) }
            waitForWritable(id, fd: fd)
            return
        }
        // EPIPE, ECONNRESET…: the slot is released by disarmConnection.
        context.beginClosing(id, reason: .error(error))
    }

    private func finishWrite(_ id: ConnectionID, fd: Int32, bytes: Int, file: Bool) {
        let i = Int(id.index)
        streamWrites[i].active = false
        streamWrites[i].slot = -1
        streamWrites[i].file = -1
        if streamWrites[i].waitingWritable {
            streamWrites[i].waitingWritable = false
            _ = register(fd, UserData(.streamReceive, index: id.index, generation: id.generation),
                         events: EPOLLIN.rawValue, operation: EPOLL_CTL_MOD)
        }
        context.streamSendFinished(id, bytes: bytes, file: file)
    }

    private func waitForWritable(_ id: ConnectionID, fd: Int32) {
        let i = Int(id.index)
        guard !streamWrites[i].waitingWritable else { return }
        if let error = register(fd, UserData(.streamReceive, index: id.index, generation: id.generation),
                                events: EPOLLIN.rawValue | EPOLLOUT.rawValue, operation: EPOLL_CTL_MOD) {
            context.beginClosing(id, reason: .error(error))
            return
        }
        streamWrites[i].waitingWritable = true
    }

    // MARK: Loop

    /// Stream writes first (their completions may queue datagrams), then the datagram batch.
    private func flushPending() {
        runQueuedWrites()
        flushDatagrams()
    }

    func run() throws(SystemError) {
        let counters = context.counters
        while true {
            context.advanceClock()
            flushPending()
            if thread.shouldStop && !context.isStopping {
                context.beginShutdown()
                flushPending()
            }
            if context.isStopping && !context.hasOpenDescriptors { return }

            var timeout: Int32 = -1
            if !writeQueue.isEmpty {
                timeout = 0
            } else if let limit = context.waitLimit() {
                timeout = Int32(clamping: limit)
            }
            let ready = try system("epoll_wait") { epoll_wait(epollFD, events, Int32(eventCapacity), timeout) }
            // Events are stamped with the time they were seen, not when the wait began (an idle
            // timer scheduled from a stale clock would fire early). Timers fire at the loop's top.
            context.now = MonotonicClock.milliseconds()

            for e in 0..<Int(ready) {
                let event = events[e]
                let mask = event.events
                let tag = UserData(raw: event.data.u64)
                switch tag.operation {
                case .datagramReceive?:
                    let id = SocketID(index: tag.index, generation: tag.generation)
                    guard context.isCurrent(id), let fd = context.descriptor(of: id) else { continue }
                    receiveDatagrams(id, fd: fd)
                case .accept?:
                    let id = SocketID(index: tag.index, generation: tag.generation)
                    guard context.isCurrent(id), let fd = context.descriptor(of: id) else { continue }
                    acceptConnections(id, fd: fd)
                case .streamReceive?:
                    let id = ConnectionID(index: tag.index, generation: tag.generation)
                    guard context.liveConnection(id) != nil else { continue }
                    let fd = context.connections[Int(id.index)].fd
                    if mask & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                        receiveStream(id, fd: fd)
                    }
                    if mask & (EPOLLOUT.rawValue | EPOLLERR.rawValue) != 0 && streamWrites[Int(id.index)].waitingWritable {
                        continueWrite(id)
                    }
                case .wakeup?:
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, MemoryLayout<UInt64>.size)
                default:
                    continue
                }
                // Writes the handler asked for during this event go out now, not after the batch.
                runQueuedWrites()
            }

            flushPending()
            counters.batches &+= 1
            context.handler.batchEnded(ring: context)
        }
    }

    func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }
}
