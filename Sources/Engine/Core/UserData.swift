/// The 64-bit `user_data` of every io_uring submission, as a documented bit layout rather than
/// a pointer, so a completion is decoded without touching memory that may have been freed:
///
///     63        56 55                     32 31                              0
///     +-----------+-------------------------+--------------------------------+
///     | operation |  generation (24 bits)   |  index (socket, connection,    |
///     |  (8 bits) |  of the table entry     |  send slot or timer)           |
///     +-----------+-------------------------+--------------------------------+
///
/// A completion whose generation no longer matches its table entry belongs to a closed socket
/// or connection and is dropped (after recycling any buffer it carries).
struct UserData: Equatable {
    enum Operation: UInt8 {
        case datagramReceive = 1     // multishot recvmsg on a UDP socket; index = socket
        case datagramSend = 2        // sendmsg from a send slot; index = slot
        case accept = 3              // multishot accept; index = listener socket
        case streamReceive = 4       // multishot recv on a connection; index = connection
        case streamSend = 5          // send from a slot; index = connection
        case fileRead = 6            // splice file → pipe on an io-wq worker (a range not in the page cache); index = connection
        case fileWritable = 7        // poll for POLLOUT before a file's next splice to the socket; index = connection
        case wakeup = 8              // multishot poll on the ring's eventfd
        case cancel = 9              // an async cancel; its own result is ignored
        case timeout = 10            // the wheel's tick
        case frameSend = 11          // AF_PACKET sendmsg from a slot; index = slot
        case linkTimeout = 12        // linked timeout on a stream send; index = connection
        case zeroCopySend = 13       // send_zc of a mapped file range (result and notification); index = connection
        case segmentedSend = 14      // sendmsg with UDP_SEGMENT from a slot; index = slot, generation = datagrams
    }

    let raw: UInt64

    init(raw: UInt64) { self.raw = raw }

    init(_ operation: Operation, index: UInt32, generation: UInt32 = 0) {
        raw = UInt64(operation.rawValue) << 56 | UInt64(generation & 0xFF_FFFF) << 32 | UInt64(index)
    }

    var operation: Operation? { Operation(rawValue: UInt8(truncatingIfNeeded: raw >> 56)) }
    var generation: UInt32 { UInt32(truncatingIfNeeded: raw >> 32) & 0xFF_FFFF }
    var index: UInt32 { UInt32(truncatingIfNeeded: raw) }
}
