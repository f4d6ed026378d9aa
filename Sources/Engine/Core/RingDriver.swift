/// What a backend (io_uring, epoll fallback, in-memory) does for a `RingContext`. The context
/// keeps the tables, timers and policy; the driver moves bytes. All calls come on the ring's
/// own thread except `wake()`.
protocol RingDriver: AnyObject {
    var name: String { get }

    /// Creates descriptors. Kernel backends open real sockets; the in-memory one hands out
    /// numbers that never reach the kernel.
    func makeUDPSocket(_ options: UDPSocketOptions) throws(SystemError) -> Int32
    func makeListener(_ options: TCPListenerOptions) throws(SystemError) -> Int32
    func localEndpoint(_ fd: Int32) throws(SystemError) -> IPv4Endpoint
    func closeDescriptor(_ fd: Int32)

    /// Starts receiving on a UDP socket (multishot recvmsg, epoll registration…).
    func armDatagramSocket(_ id: SocketID, fd: Int32)
    /// Starts accepting on a listener.
    func armListener(_ id: SocketID, fd: Int32)
    /// Starts receiving on an accepted connection.
    func armConnection(_ id: ConnectionID, fd: Int32)
    /// Stops everything in flight on the socket; when nothing is left, calls
    /// `context.socketReleased(id)`, which closes the descriptor.
    func disarmSocket(_ id: SocketID, fd: Int32)
    /// The same for a connection; ends with `context.connectionReleased(id)`.
    func disarmConnection(_ id: ConnectionID, fd: Int32)

    /// Sends `length` bytes of the slot (then `extra`, if any) from the socket, with an explicit
    /// source address and interface when non-zero. Releases the slot when the kernel is done.
    func sendDatagram(fd: Int32, slot: Int32, length: Int, extra: UnsafeRawBufferPointer?,
                      destination: IPv4Endpoint, source: UInt32, interfaceIndex: Int32)
    /// How many datagrams one `sendSegmented` may carry with this header and chunk size (1: the
    /// backend cannot segment, or not any more).
    func segmentLimit(headerLength: Int, chunk: Int) -> Int
    /// Sends `count` (≥ 2, ≤ `segmentLimit`) datagrams in one system call: datagram i is the
    /// slot's bytes at i × headerLength, `headerLength` long, followed by the next `chunk` bytes
    /// of `body` (the last may be shorter). Releases the slot when the kernel is done.
    func sendSegmented(fd: Int32, slot: Int32, headerLength: Int, count: Int, body: UnsafeRawBufferPointer, chunk: Int,
                       destination: IPv4Endpoint)
    /// Sends a whole Ethernet frame on an interface through the ring's AF_PACKET socket,
    /// opened on first use (CAP_NET_RAW). On failure the slot is released and the error thrown.
    func sendFrame(slot: Int32, length: Int, interfaceIndex: Int32, destinationMAC: UInt64) throws(SystemError)
    /// Writes `length` bytes of the slot on the connection, all of them, then reports
    /// `context.streamSendFinished`.
    func streamSend(_ id: ConnectionID, fd: Int32, slot: Int32, length: Int)
    /// Writes a file range on the connection without copying it through user space.
    func streamSendFile(_ id: ConnectionID, fd: Int32, file: Int32, offset: Int64, length: Int64)

    /// Runs the loop until `context.isStopping` and nothing is in flight.
    func run() throws(SystemError)
    /// Interrupts a wait from another thread (shutdown, a table swap to apply).
    func wake()
}
