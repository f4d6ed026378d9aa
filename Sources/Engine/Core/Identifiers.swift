/// A UDP socket or TCP listener owned by one ring: a table index and the generation of the
/// entry, so an event for a closed socket whose slot was reused is recognised and ignored.
public struct SocketID: Hashable, Sendable, CustomStringConvertible {
    public let index: UInt32
    public let generation: UInt32
    public var description: String { "socket \(index).\(generation)" }
}

/// An accepted TCP connection owned by one ring (index and generation as for `SocketID`).
public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
    public let index: UInt32
    public let generation: UInt32
    public var description: String { "connection \(index).\(generation)" }
}

/// A timer scheduled on a ring's timer wheel.
public struct TimerID: Hashable, Sendable {
    public let index: UInt32
    public let generation: UInt32
}

/// A pre-allocated send buffer: the reply is written here and leaves from here. Owned by the
/// handler from `allocateSlot()` until it is passed to a send (or released).
public struct SendSlot {
    public let index: Int32
    public let buffer: UnsafeMutableRawBufferPointer
}

/// Why a connection closed.
public enum CloseReason: Sendable, Equatable {
    /// The peer closed its side (a zero-length read) or reset.
    case peerClosed
    /// No bytes either way for the listener's idle timeout.
    case idleTimeout
    /// The listener's total timeout passed since the connection was accepted.
    case totalTimeout
    /// The service asked for it.
    case local
    /// The ring is shutting down.
    case shutdown
    /// A receive or send failed with this errno.
    case error(Int32)
}
