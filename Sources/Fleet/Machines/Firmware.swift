import Wire

/// The network-boot firmware a simulated machine pretends to be, which decides what its DHCP
/// requests say about it and so which boot file a server offers.
public enum Firmware: String, CaseIterable, Sendable {
    /// A legacy BIOS PXE ROM: option 93 = 0 (RFC 4578 "Intel x86PC").
    case bios
    /// UEFI x64 firmware: option 93 = 7 ("EFI BC", the value x64 firmware sends in practice).
    case uefi
    /// iPXE (chain-loaded or in ROM): BIOS architecture plus user class "iPXE" (option 77) and
    /// iPXE's encapsulated options (175), which servers use to hand out a script instead of a ROM.
    case ipxe

    /// RFC 4578 §2.1 client system architecture.
    public var architecture: UInt16 {
        switch self {
        case .bios, .ipxe: 0
        case .uefi: 7
        }
    }

    /// Option 60 as the PXE specification spells it: "PXEClient:Arch:xxxxx:UNDI:yyyzzz".
    public var vendorClass: StaticString {
        switch self {
        case .bios, .ipxe: "PXEClient:Arch:00000:UNDI:002001"
        case .uefi: "PXEClient:Arch:00007:UNDI:003016"
        }
    }

    /// Option 94 (RFC 4578 §2.2): type 1 (UNDI), major, minor.
    public var networkInterface: (UInt8, UInt8, UInt8) {
        switch self {
        case .bios, .ipxe: (1, 2, 1)
        case .uefi: (1, 3, 16)
        }
    }

    /// Option 55 as each kind of ROM sends it (from captures of real ROMs; the iPXE list is the
    /// one in `../shared/corpus/pxe`).
    public var parameterRequestList: [UInt8] {
        switch self {
        case .bios, .uefi: [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135]
        case .ipxe: [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]
        }
    }
}

/// How many machines of each firmware kind, as weights: `bios=60,uefi=30,ipxe=10`.
public struct FirmwareMix: Sendable, Equatable, CustomStringConvertible {
    public var weights: [(Firmware, Int)]

    public static func == (lhs: FirmwareMix, rhs: FirmwareMix) -> Bool {
        lhs.weights.map(\.0) == rhs.weights.map(\.0) && lhs.weights.map(\.1) == rhs.weights.map(\.1)
    }

    public init(weights: [(Firmware, Int)]) { self.weights = weights }

    public static let `default` = FirmwareMix(weights: [(.bios, 1)])

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `bios=60,uefi=30,ipxe=10` (weights are non-negative integers, any total above 0).
    public init(parsing text: String) throws(ParseError) {
        var weights: [(Firmware, Int)] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1)
            guard pieces.count == 2, let kind = Firmware(rawValue: String(pieces[0]).trimmed()),
                  let weight = Int(String(pieces[1]).trimmed()), weight >= 0 else {
                throw ParseError(description: "--mix: '\(part)' is not KIND=WEIGHT with KIND one of bios, uefi, ipxe")
            }
            guard !weights.contains(where: { $0.0 == kind }) else { throw ParseError(description: "--mix: \(kind) given twice") }
            weights.append((kind, weight))
        }
        guard weights.reduce(0, { $0 + $1.1 }) > 0 else { throw ParseError(description: "--mix: the weights add up to 0") }
        self.weights = weights
    }

    /// The firmware of machine `index`: spread evenly (largest remainder), so any prefix of the
    /// fleet keeps the proportions and the assignment is the same on every run.
    public func firmware(of index: Int) -> Firmware {
        let total = weights.reduce(0) { $0 + $1.1 }
        let slot = (index &* 7919) % total   // a stride co-prime with most totals spreads kinds out
        var at = 0
        for (kind, weight) in weights {
            at += weight
            if slot < at { return kind }
        }
        return weights.last!.0
    }

    public var description: String { weights.map { "\($0.0.rawValue)=\($0.1)" }.joined(separator: ",") }
}

extension String {
    func trimmed() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
