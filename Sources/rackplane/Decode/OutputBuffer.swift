import Glibc

/// Collects output lines and writes them to stdout in large chunks (one write per 64 KiB, not
/// one per line).
struct OutputBuffer {
    private var pending: [UInt8] = []

    init() { pending.reserveCapacity(1 << 16) }

    mutating func writeLine(_ line: String) {
        pending.append(contentsOf: line.utf8)
        pending.append(0x0A)
        if pending.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        pending.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
        pending.removeAll(keepingCapacity: true)
    }
}
