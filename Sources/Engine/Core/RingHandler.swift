/// A service running on a ring: the engine calls it on the ring's own thread, one event at a
/// time, and it acts through the `RingContext` it is given. It knows nothing of io_uring,
/// epoll or the in-memory backend: the same handler runs on all three.
///
/// Handlers must not block: no file reads on the hot path, no locks, no waiting.
public protocol RingHandler: AnyObject {
    /// Called once on the ring thread before any event: open sockets and listeners here.
    func started(ring: RingContext) throws
    /// A datagram arrived on one of this ring's UDP sockets.
    func received(_ datagram: ReceivedDatagram, ring: RingContext)
    /// A listener accepted a connection.
    func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, listener: SocketID, ring: RingContext)
    /// Bytes arrived on a connection; valid only during the call.
    func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext)
    /// The connection's pending send (bytes or file range) has been written out entirely.
    func sendCompleted(on connection: ConnectionID, ring: RingContext)
    /// The connection is gone; its ID is never reported again.
    func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext)
    /// A timer scheduled with `ring.schedule` came due.
    func timerFired(token: UInt64, ring: RingContext)
    /// A batch of completions has been handled: the place to swap tables or flush journals.
    func batchEnded(ring: RingContext)
}

extension RingHandler {
    public func started(ring: RingContext) throws {}
    public func accepted(_ connection: ConnectionID, peer: IPv4Endpoint, listener: SocketID, ring: RingContext) {}
    public func received(_ bytes: UnsafeRawBufferPointer, on connection: ConnectionID, ring: RingContext) {}
    public func sendCompleted(on connection: ConnectionID, ring: RingContext) {}
    public func closed(_ connection: ConnectionID, reason: CloseReason, ring: RingContext) {}
    public func timerFired(token: UInt64, ring: RingContext) {}
    public func batchEnded(ring: RingContext) {}
}
