import Tables
import Wire

/// Facts about a boot-config request that the path does not carry.
public struct BootConfigRequest: Sendable {
    /// The requester's address (the TFTP or HTTP peer): finds the machine for names without a
    /// MAC, and its subnet.
    public var client: IPv4Address
    /// Our address the request arrived on: `{http}`'s host when neither the boot profile nor
    /// the subnet names a next-server.
    public var local: IPv4Address

    public init(client: IPv4Address, local: IPv4Address) {
        self.client = client
        self.local = local
    }
}

/// Why a boot-config name got "no such config" (TFTP error 1, HTTP 404). Stable names: they
/// label the counters.
public enum BootConfigRefusal: Int, CaseIterable, Sendable {
    /// In a boot-config namespace (`pxelinux.cfg/…`, `grub/grub.cfg-…`, `ipxe.cfg-…`) but not a
    /// name a loader asks for.
    case malformedName
    /// The machine needs a kernel boot but its boot profile has no kernel or no initrd (or the
    /// tables have no boot profile).
    case noBootImage
    /// The rendered config does not fit in the caller's buffer.
    case replyTooLarge

    public var name: String {
        switch self {
        case .malformedName: "malformed_name"
        case .noBootImage: "no_boot_image"
        case .replyTooLarge: "reply_too_large"
        }
    }
}

/// The answer to one requested path.
public enum BootConfigVerdict: Equatable, Sendable {
    /// Serve the first `length` bytes of the buffer. `mac` names the machine when known (for
    /// the access log).
    case config(length: Int, format: BootConfigFormat, purpose: BootPurpose, mac: MACAddress?)
    /// Not a boot config: serve the path from the files root.
    case notABootConfig
    /// A boot-config name with nothing to serve ("file not found").
    case noSuchConfig(BootConfigRefusal)
}

/// The machine a config is rendered for.
public struct BootMachine {
    /// The MAC from the name, else from the reservation found by address; nil when neither.
    public var mac: MACAddress?
    /// The machine's reservation, if it has one.
    public var reservation: ReservationView?

    /// What to boot: the reservation's purpose; a machine the tables do not know enlists.
    public var purpose: BootPurpose { reservation?.purpose ?? .enlist }
}

/// Configs rendered and refused, by format × purpose and by reason; arrays, so counting is an
/// increment.
public struct BootConfigCounters: Sendable {
    /// Index `format.rawValue * BootPurpose.allCases.count + purpose.rawValue`.
    public var rendered = [UInt64](repeating: 0, count: BootConfigFormat.allCases.count * BootPurpose.allCases.count)
    /// Index `BootConfigRefusal.rawValue`.
    public var refused = [UInt64](repeating: 0, count: BootConfigRefusal.allCases.count)
    /// Paths passed through to the file server.
    public var notBootConfigs: UInt64 = 0

    public init() {}

    public func rendered(_ format: BootConfigFormat, _ purpose: BootPurpose) -> UInt64 {
        rendered[Int(format.rawValue) * BootPurpose.allCases.count + Int(purpose.rawValue)]
    }
}

/// Boot configs rendered per machine from the tables, on request — no file per machine:
/// `(path, requester, tables) → verdict`, written into the caller's buffer. No I/O.
///
/// pxelinux asks for `pxelinux.cfg/01-<mac>`, then its address in hex and each shorter prefix
/// of it (`C6120015`, `C612001`, … `C`), then `default`; since every MAC name gets a config
/// (an unknown MAC enlists), the later probes come only from clients that skip the first.
public struct BootConfigResponder {
    public var templates: BootTemplates
    public private(set) var counters = BootConfigCounters()

    public init(templates: BootTemplates = .standard) {
        self.templates = templates
    }

    /// Classifies `path` and, if it names a boot config, renders it into `output`.
    public mutating func respond(path: UnsafeRawBufferPointer, request: BootConfigRequest, tables: TableSnapshot,
                                 output: UnsafeMutableRawBufferPointer) -> BootConfigVerdict {
        let verdict: BootConfigVerdict
        switch BootConfigName(path: path) {
        case .notABootConfig:
            verdict = .notABootConfig
        case .malformed:
            verdict = .noSuchConfig(.malformedName)
        case .config(let format, let key):
            let machine = Self.machine(for: key, client: request.client, tables: tables)
            verdict = Self.render(format, for: machine, request: request, tables: tables, templates: templates, into: output)
        }
        switch verdict {
        case .config(_, let format, let purpose, _):
            counters.rendered[Int(format.rawValue) * BootPurpose.allCases.count + Int(purpose.rawValue)] &+= 1
        case .notABootConfig:
            counters.notBootConfigs &+= 1
        case .noSuchConfig(let reason):
            counters.refused[reason.rawValue] &+= 1
        }
        return verdict
    }

    /// `respond` for a path given as text.
    public mutating func respond(path: String, request: BootConfigRequest, tables: TableSnapshot,
                                 output: UnsafeMutableRawBufferPointer) -> BootConfigVerdict {
        var path = path
        return path.withUTF8 { respond(path: UnsafeRawBufferPointer($0), request: request, tables: tables, output: output) }
    }

    /// Which machine a name is for.
    /// - A MAC: that MAC, with its reservation if it has one.
    /// - A full hex address (`C6120015`): the reservation with that address.
    /// - A shorter hex prefix, or no key (`default`, `grub.cfg`, `ipxe.cfg`): the reservation
    ///   with the requester's address — when the prefix covers it; a prefix that does not (no
    ///   loader asks for one) gets the generic config.
    /// Reservations are found by address with a scan: the tables index them by MAC and client
    /// identifier only, and this runs once per boot, not per packet.
    public static func machine(for key: BootConfigKey, client: IPv4Address, tables: TableSnapshot) -> BootMachine {
        let address: IPv4Address?
        switch key {
        case .mac(let mac):
            return BootMachine(mac: mac, reservation: tables.reservation(mac: mac))
        case .addressPrefix(let prefix, let bits):
            if bits >= 32 {
                address = prefix
            } else {
                let mask = bits == 0 ? 0 : ~UInt32(0) << (32 - UInt32(bits))
                address = client.value & mask == prefix.value ? client : nil
            }
        case .requester:
            address = client
        }
        guard let address, !address.isUnspecified else { return BootMachine(mac: nil, reservation: nil) }
        for i in 0..<tables.reservationCount {
            let candidate = tables.reservation(i)
            if candidate.address == address { return BootMachine(mac: candidate.mac, reservation: candidate) }
        }
        return BootMachine(mac: nil, reservation: nil)
    }

    /// Renders `format` for `machine`: its purpose's template, filled from its boot profile
    /// (the profile of its reservation's subnet, else of the requester's subnet, else the first).
    public static func render(_ format: BootConfigFormat, for machine: BootMachine, request: BootConfigRequest,
                              tables: TableSnapshot, templates: BootTemplates = .standard,
                              into output: UnsafeMutableRawBufferPointer) -> BootConfigVerdict {
        let purpose = machine.purpose
        let subnet = machine.reservation?.subnetIndex.map { tables.subnet($0) }
            ?? tables.subnet(containing: request.client)
        let profile = tables.bootProfileCount == 0 ? nil : (subnet?.bootProfile ?? tables.bootProfile(0))
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        let isLocal = purpose == .local
        if !isLocal {
            guard let profile, !profile.kernel.isEmpty, !profile.initrd.isEmpty else { return .noSuchConfig(.noBootImage) }
        }
        let values = BootTemplateValues(
            format: format,
            purpose: purpose,
            mac: machine.mac,
            hostname: machine.reservation?.hostname ?? empty,
            architecture: machine.reservation?.architecture ?? .unknown,
            kernel: profile?.kernel ?? empty,
            initrd: profile?.initrd ?? empty,
            commandLine: profile?.commandLine ?? empty,
            // Local boots run nothing of ours: no token leaves the rack for them.
            bootArguments: isLocal ? empty : (machine.reservation.map(\.bootArguments) ?? tables.enlistBootArguments),
            httpServer: profile?.nextServer ?? subnet?.nextServer ?? request.local,
            httpPort: templates.httpPort)
        guard let length = BootTemplateRenderer.render(templates.template(format, local: isLocal), values, into: output) else {
            return .noSuchConfig(.replyTooLarge)
        }
        return .config(length: length, format: format, purpose: purpose, mac: machine.mac)
    }
}
