import Glibc

/// How many datagrams one segmented send may carry. The kernel takes at most 64 segments and
/// one UDP datagram's worth of payload (65,507 bytes); the send slot holds the headers and then
/// two iovecs per datagram, after up to 15 bytes of alignment.
enum SegmentedSendLimit {
    static let maximumSegments = 64
    static let maximumPayload = 65_507

    static func datagrams(slotSize: Int, headerLength: Int, chunk: Int) -> Int {
        let bySlot = (slotSize - 16) / (headerLength + 2 * MemoryLayout<iovec>.stride)
        return max(1, min(maximumSegments, bySlot, maximumPayload / (headerLength + chunk)))
    }
}
