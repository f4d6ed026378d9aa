import Tables
import Wire

/// The values a template's placeholders take for one machine. The byte fields point into the
/// table snapshot, which outlives the render.
struct BootTemplateValues {
    var format: BootConfigFormat
    var purpose: BootPurpose
    /// Nil when the requested name does not identify the machine and no reservation has the
    /// requester's address.
    var mac: MACAddress?
    var hostname: UnsafeRawBufferPointer
    var architecture: MachineArchitecture
    var kernel: UnsafeRawBufferPointer
    var initrd: UnsafeRawBufferPointer
    var commandLine: UnsafeRawBufferPointer
    /// The reservation's boot arguments, or the enlistment arguments for an unknown machine.
    var bootArguments: UnsafeRawBufferPointer
    var httpServer: IPv4Address
    var httpPort: UInt16
}

/// Expands a template into the caller's buffer. Not on a per-packet path (one render per
/// boot, a few hundred bytes), but it reads the template once and builds no strings.
enum BootTemplateRenderer {
    /// `allCases` builds an array on each use; this is built once.
    private static let placeholders = BootPlaceholder.allCases

    /// The rendered length, or nil if the output does not fit in `out`.
    static func render(_ template: String, _ values: BootTemplateValues, into out: UnsafeMutableRawBufferPointer) -> Int? {
        var template = template
        return template.withUTF8 { render(UnsafeRawBufferPointer($0), values, into: out) }
    }

    static func render(_ t: UnsafeRawBufferPointer, _ values: BootTemplateValues, into out: UnsafeMutableRawBufferPointer) -> Int? {
        var w = BootConfigWriter(out)
        // Where the current word began in the output, and where the current line began: a
        // placeholder without a value rewinds to `wordStart` when its word ends.
        var wordStart = 0
        var lineStart = 0
        var dropWord = false
        var i = 0
        while i < t.count {
            let byte = t[i]
            if byte == UInt8(ascii: "{"), let found = placeholder(in: t, at: i) {
                if !write(found.name, values, &w) { dropWord = true }
                i = found.end
                continue
            }
            if byte == space || byte == tab || byte == newline {
                if dropWord {
                    dropWord = false
                    if !dropWordAndSpace(&w, wordStart: wordStart, lineStart: lineStart), byte == space {
                        // The word began its line: the space after it goes instead.
                        i += 1
                        wordStart = w.count
                        continue
                    }
                }
                w.byte(byte)
                wordStart = w.count
                if byte == newline { lineStart = w.count }
            } else {
                w.byte(byte)
            }
            i += 1
        }
        if dropWord { _ = dropWordAndSpace(&w, wordStart: wordStart, lineStart: lineStart) }
        return w.overflowed ? nil : w.count
    }

    /// Rewinds over the current word; also over the space before it if there is one on this
    /// line (returns whether there was).
    private static func dropWordAndSpace(_ w: inout BootConfigWriter, wordStart: Int, lineStart: Int) -> Bool {
        w.count = wordStart
        guard w.count > lineStart, w.out[w.count - 1] == space else { return false }
        w.count -= 1
        return true
    }

    /// The placeholder spelled at `start` (which holds `{`) and the index after its `}`.
    static func placeholder(in t: UnsafeRawBufferPointer, at start: Int) -> (name: BootPlaceholder, end: Int)? {
        var end = start + 1
        while end < t.count, end - start <= 16, t[end] != UInt8(ascii: "}") { end += 1 }
        guard end < t.count, t[end] == UInt8(ascii: "}") else { return nil }
        let name = UnsafeRawBufferPointer(rebasing: t[(start + 1)..<end])
        for candidate in placeholders where candidate.rawValue.utf8.elementsEqual(name) {
            return (candidate, end + 1)
        }
        return nil
    }

    /// Writes one placeholder's value; false if it has none.
    private static func write(_ placeholder: BootPlaceholder, _ v: BootTemplateValues, _ w: inout BootConfigWriter) -> Bool {
        switch placeholder {
        case .purpose:
            w.ascii(v.purpose.name)
        case .mac, .bootif:
            let isBOOTIF = placeholder == .bootif
            if let mac = v.mac {
                if isBOOTIF { w.ascii("01-") }
                for i in 0..<6 {
                    if i > 0 { w.byte(isBOOTIF ? UInt8(ascii: "-") : UInt8(ascii: ":")) }
                    w.hex(mac.octet(i))
                }
            } else if let runtime = BootTemplates.runtimeMAC(v.format) {
                w.ascii(isBOOTIF ? runtime.bootif : runtime.mac)
            } else {
                return false
            }
        case .hostname:
            guard !v.hostname.isEmpty else { return false }
            w.text(v.hostname)
        case .kernel, .initrd:
            let path = placeholder == .kernel ? v.kernel : v.initrd
            guard !path.isEmpty else { return false }
            w.text(relativePath(path))
        case .kernelURL, .initrdURL:
            let path = placeholder == .kernelURL ? v.kernel : v.initrd
            guard !path.isEmpty else { return false }
            if !isURL(path) {
                writeHTTP(v, &w)
                w.byte(UInt8(ascii: "/"))
            }
            w.text(relativePath(path))
        case .http:
            writeHTTP(v, &w)
        case .cmdline:
            guard !v.commandLine.isEmpty else { return false }
            w.text(v.commandLine)
        case .bootArgs:
            guard !v.bootArguments.isEmpty else { return false }
            w.text(v.bootArguments)
        case .efiLoader:
            switch v.architecture {
            case .arm64: w.ascii("BOOTAA64.EFI")
            case .i386: w.ascii("BOOTIA32.EFI")
            case .amd64, .unknown: w.ascii("BOOTX64.EFI")
            }
        }
        return true
    }

    private static func writeHTTP(_ v: BootTemplateValues, _ w: inout BootConfigWriter) {
        w.ascii("http://")
        let a = v.httpServer.value
        for shift in stride(from: 24, through: 0, by: -8) {
            w.decimal(UInt32(a >> UInt32(shift) & 0xFF))
            if shift > 0 { w.byte(UInt8(ascii: ".")) }
        }
        w.byte(UInt8(ascii: ":"))
        w.decimal(UInt32(v.httpPort))
    }

    /// A URL (`scheme://…`) as it is; a path without its leading slashes (relative to the files
    /// root, which is the TFTP root and the HTTP document root).
    static func relativePath(_ path: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if isURL(path) { return path }
        var start = 0
        while start < path.count, path[start] == UInt8(ascii: "/") { start += 1 }
        return UnsafeRawBufferPointer(rebasing: path[start...])
    }

    static func isURL(_ path: UnsafeRawBufferPointer) -> Bool {
        guard path.count >= 3 else { return false }
        for i in 0..<(path.count - 2) where path[i] == UInt8(ascii: ":") {
            return path[i + 1] == UInt8(ascii: "/") && path[i + 2] == UInt8(ascii: "/")
        }
        return false
    }
}

/// A bounds-checked cursor over the caller's output buffer: a write past the end sets
/// `overflowed` instead of writing.
struct BootConfigWriter {
    let out: UnsafeMutableRawBufferPointer
    var count = 0
    var overflowed = false

    init(_ out: UnsafeMutableRawBufferPointer) { self.out = out }

    mutating func byte(_ b: UInt8) {
        guard count < out.count else { overflowed = true; return }
        out[count] = b
        count += 1
    }

    mutating func ascii(_ s: String) {
        for b in s.utf8 { byte(b) }
    }

    /// Table text, with control characters turned into spaces: a newline in a command line
    /// or hostname must not start a new directive in the config.
    mutating func text(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes { byte(b < 0x20 || b == 0x7F ? space : b) }
    }

    mutating func hex(_ b: UInt8) {
        byte(hexDigit(b >> 4))
        byte(hexDigit(b & 0xF))
    }

    mutating func decimal(_ value: UInt32) {
        var divisor: UInt32 = 1
        while value / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            byte(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }

    private func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}

private let space = UInt8(ascii: " ")
private let tab = UInt8(ascii: "\t")
private let newline = UInt8(ascii: "\n")
