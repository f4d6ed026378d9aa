import CLinuxShims
import Glibc

/// Everything a `sendmsg` from one send slot needs, kept per slot so it stays valid until the
/// completion: the header, two iovecs (slot bytes, then optional file bytes), the destination
/// (`sockaddr_in`, or `sockaddr_ll` for a frame) and room for one IP_PKTINFO or UDP_SEGMENT
/// control message. A segmented send keeps its iovecs in the slot itself, after the headers.
struct SlotMessage {
    var header = msghdr()
    var vectors = (iovec(), iovec())
    var address = sockaddr_ll()          // 20 bytes: also holds a sockaddr_in (16)
    var control: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)   // CMSG_SPACE(in_pktinfo) = 32

    static let pktinfoControlLength = 32
    /// CMSG_SPACE(sizeof(uint16_t)) for UDP_SEGMENT.
    static let segmentControlLength = 24
}
