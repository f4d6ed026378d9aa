/// The live line `rackplane loadgen` keeps redrawing on a terminal's standard error.
public struct ProgressBar {
    private var lastSeconds = 0.0
    private var lastBytes: UInt64 = 0
    private var rate = 0.0
    public let width: Int

    public init(width: Int = 28) { self.width = width }

    /// One frame: `\r`, the line, and erase-to-end-of-line.
    public mutating func frame(_ p: LoadProgress) -> String {
        if p.elapsedSeconds - lastSeconds >= 0.5 {
            rate = Double(p.bytes - min(p.bytes, lastBytes)) / (p.elapsedSeconds - lastSeconds)
            lastSeconds = p.elapsedSeconds
            lastBytes = p.bytes
        }
        let done = p.booted + p.failed
        let filled = p.requested > 0 ? min(width, done * width / p.requested) : width
        var bar = String(repeating: "=", count: filled)
        if filled < width { bar += ">" + String(repeating: " ", count: width - filled - 1) }
        let stages = Stage.allCases.map { "\($0.rawValue) \(p.inStage[$0] ?? 0)" }.joined(separator: " ")
        var line = "\r[\(bar)] \(done)/\(p.requested)  booted \(p.booted)"
        if p.failed > 0 { line += "  failed \(p.failed)" }
        line += "  | in flight: \(stages) | \(LoadReport.bytes(rate))/s | \(LoadReport.format(p.elapsedSeconds)) s"
        return line + "\u{1B}[K"
    }

    /// Erases the line (before the final table is printed).
    public static let clear = "\r\u{1B}[K"
}
