import Testing
@testable import Responders
import Tables
import Wire

/// One local subnet (198.18.0.0/24, next-server .1) and one without a next-server
/// (198.19.0.0/16); a machine per purpose.
func bootTables(commandLine: String = "console=ttyS0", profileNextServer: IPv4Address? = nil,
                kernel: String = "images/vmlinuz", initrd: String = "/images/initrd.gz", profiles: Bool = true,
                bootArguments: [UInt8: String] = [:], enlistArguments: String = "") throws -> TableSnapshot {
    var builder = TablesBuilder()
    builder.domain = "maas.test"
    builder.filesRoot = "/srv/rackplane"
    var local = TablesBuilder.Subnet(network: IPv4Address(198, 18, 0, 0), prefixLength: 24)
    local.nextServer = IPv4Address(198, 18, 0, 1)
    local.pools = [IPv4Address(198, 18, 0, 100)...IPv4Address(198, 18, 0, 250)]
    let bare = TablesBuilder.Subnet(network: IPv4Address(198, 19, 0, 0), prefixLength: 16)
    builder.subnets = [local, bare]
    func machine(_ n: UInt8, _ purpose: BootPurpose, architecture: MachineArchitecture = .amd64) -> TablesBuilder.Reservation {
        var r = TablesBuilder.Reservation(mac: MACAddress(0x5254_0000_0000 | UInt64(n)), address: IPv4Address(198, 18, 0, 20 + n))
        r.hostname = "node0\(n)"
        r.purpose = purpose
        r.architecture = architecture
        r.bootArguments = bootArguments[n] ?? ""
        return r
    }
    var unaddressed = TablesBuilder.Reservation(mac: MACAddress("52:54:00:00:00:0a")!, address: nil)
    unaddressed.purpose = .deploy
    builder.reservations = [
        machine(1, .commission), machine(2, .deploy), machine(3, .rescue),
        machine(4, .local, architecture: .arm64), machine(5, .enlist), machine(6, .local), unaddressed,
    ]
    var profile = TablesBuilder.BootProfile()
    profile.nextServer = profileNextServer
    profile.bios = "lpxelinux.0"
    profile.kernel = kernel
    profile.initrd = initrd
    profile.commandLine = commandLine
    builder.bootProfiles = profiles ? [profile] : [TablesBuilder.BootProfile()]
    builder.enlistBootArguments = enlistArguments
    return try TableSnapshot(builder.build(generation: 1))
}

let rackAddress = IPv4Address(198, 18, 0, 1)
let bootNode01 = MACAddress("52:54:00:00:00:01")!

/// Renders `path` as requested from `client`; the text, or nil with the verdict.
func bootRender(_ path: String, from client: IPv4Address = IPv4Address(198, 18, 0, 150), tables: TableSnapshot,
                templates: BootTemplates = .standard, capacity: Int = 4096) -> (verdict: BootConfigVerdict, text: String?) {
    var responder = BootConfigResponder(templates: templates)
    var buffer = [UInt8](repeating: 0, count: capacity)
    let verdict = buffer.withUnsafeMutableBytes {
        responder.respond(path: path, request: BootConfigRequest(client: client, local: rackAddress), tables: tables, output: $0)
    }
    guard case .config(let length, _, _, _) = verdict else { return (verdict, nil) }
    return (verdict, String(decoding: buffer[..<length], as: UTF8.self))
}

@Suite struct BootConfigTests {
    // MARK: Names

    @Test(arguments: [
        // pxelinux: 01-<mac> in both separators and cases, hex IP and its prefixes, default.
        ("pxelinux.cfg/01-52-54-00-00-00-01", BootConfigName.config(.pxelinux, .mac(bootNode01))),
        ("/pxelinux.cfg/01-52-54-00-00-00-01", .config(.pxelinux, .mac(bootNode01))),
        ("//pxelinux.cfg/01-52-54-00-00-00-01", .config(.pxelinux, .mac(bootNode01))),
        ("pxelinux.cfg\\01-52-54-00-00-00-01", .config(.pxelinux, .mac(bootNode01))),
        ("pxelinux.cfg/01-52:54:00:00:00:01", .config(.pxelinux, .mac(bootNode01))),
        ("pxelinux.cfg/01-AA-BB-CC-DD-EE-FF", .config(.pxelinux, .mac(MACAddress(0xAABB_CCDD_EEFF)))),
        ("pxelinux.cfg/01-aa-bb-cc-dd-ee-ff", .config(.pxelinux, .mac(MACAddress(0xAABB_CCDD_EEFF)))),
        ("pxelinux.cfg/52-54-00-00-00-01", .config(.pxelinux, .mac(bootNode01))),
        ("pxelinux.cfg/C6120015", .config(.pxelinux, .addressPrefix(IPv4Address(198, 18, 0, 21), bits: 32))),
        ("pxelinux.cfg/c6120015", .config(.pxelinux, .addressPrefix(IPv4Address(198, 18, 0, 21), bits: 32))),
        ("pxelinux.cfg/C612001", .config(.pxelinux, .addressPrefix(IPv4Address(198, 18, 0, 16), bits: 28))),
        ("pxelinux.cfg/C61200", .config(.pxelinux, .addressPrefix(IPv4Address(198, 18, 0, 0), bits: 24))),
        ("pxelinux.cfg/C612", .config(.pxelinux, .addressPrefix(IPv4Address(198, 18, 0, 0), bits: 16))),
        ("pxelinux.cfg/C", .config(.pxelinux, .addressPrefix(IPv4Address(192, 0, 0, 0), bits: 4))),
        ("pxelinux.cfg/default", .config(.pxelinux, .requester)),
        ("/pxelinux.cfg/default", .config(.pxelinux, .requester)),
        // GRUB: MAAS's grub.cfg-<mac with colons>, GRUB's own 01-<mac>, hex IP, and the bare name.
        ("grub/grub.cfg-52:54:00:00:00:01", .config(.grub, .mac(bootNode01))),
        ("grub/grub.cfg-52-54-00-00-00-01", .config(.grub, .mac(bootNode01))),
        ("/grub/grub.cfg-52:54:00:00:00:01", .config(.grub, .mac(bootNode01))),
        ("grub/grub.cfg-01-52-54-00-00-00-01", .config(.grub, .mac(bootNode01))),
        ("grub/grub.cfg-AA:BB:CC:DD:EE:FF", .config(.grub, .mac(MACAddress(0xAABB_CCDD_EEFF)))),
        ("grub/grub.cfg-C6120015", .config(.grub, .addressPrefix(IPv4Address(198, 18, 0, 21), bits: 32))),
        ("grub/grub.cfg", .config(.grub, .requester)),
        ("/grub/grub.cfg", .config(.grub, .requester)),
        // iPXE.
        ("ipxe.cfg-52:54:00:00:00:01", .config(.ipxe, .mac(bootNode01))),
        ("ipxe.cfg-52-54-00-00-00-01", .config(.ipxe, .mac(bootNode01))),
        ("/ipxe.cfg-aa:BB:cc:DD:ee:FF", .config(.ipxe, .mac(MACAddress(0xAABB_CCDD_EEFF)))),
        ("ipxe.cfg", .config(.ipxe, .requester)),
        ("/ipxe.cfg", .config(.ipxe, .requester)),
    ])
    func namesAreClassified(path: String, expected: BootConfigName) {
        #expect(BootConfigName(path: path) == expected)
    }

    @Test(arguments: [
        "lpxelinux.0", "/lpxelinux.0", "images/vmlinuz", "/images/initrd.gz", "../etc/passwd", "/../etc/passwd",
        "pxelinux.cfg", "pxelinux.cfgX/default", "grub/x86_64-efi/normal.mod", "grub/grub.cfg.bak", "grub/grub.cfgx",
        "ipxe.cfg.orig", "ipxe.cfgs", "bootx64.efi", "", "/", "default", "grub.cfg", "01-52-54-00-00-00-01",
    ])
    func otherPathsAreNotBootConfigs(path: String) throws {
        #expect(BootConfigName(path: path) == .notABootConfig)
        #expect(bootRender(path, tables: try bootTables()).verdict == .notABootConfig)
    }

    @Test(arguments: [
        ("pxelinux.cfg/", BootConfigFormat.pxelinux),
        ("pxelinux.cfg/zz", .pxelinux),
        ("pxelinux.cfg/../../etc/passwd", .pxelinux),
        ("pxelinux.cfg/01-52-54-00-00-00-0g", .pxelinux),
        ("pxelinux.cfg/02-52-54-00-00-00-01", .pxelinux),
        ("pxelinux.cfg/01-52-54-00-00-00-01x", .pxelinux),
        ("pxelinux.cfg/52.54.00.00.00.01", .pxelinux),
        ("pxelinux.cfg/C61200150", .pxelinux),
        ("pxelinux.cfg/DEFAULT", .pxelinux),
        ("pxelinux.cfg/sub/default", .pxelinux),
        ("grub/grub.cfg-", .grub),
        ("grub/grub.cfg-52:54:00", .grub),
        ("grub/grub.cfg-default", .grub),
        ("grub/grub.cfg-../../etc/passwd", .grub),
        ("ipxe.cfg-", .ipxe),
        ("ipxe.cfg-52:54:00:00:00:01:02", .ipxe),
        ("ipxe.cfg-52_54_00_00_00_01", .ipxe),
    ])
    func malformedNamesAreNoSuchConfig(path: String, format: BootConfigFormat) throws {
        #expect(BootConfigName(path: path) == .malformed(format))
        #expect(bootRender(path, tables: try bootTables()).verdict == .noSuchConfig(.malformedName))
    }

    // MARK: Which machine

    @Test func machinesAreFoundByMACAddressAndRequester() throws {
        let tables = try bootTables()
        let node = IPv4Address(198, 18, 0, 21)
        let stranger = IPv4Address(198, 18, 0, 150)
        func machine(_ path: String, from client: IPv4Address) -> BootMachine? {
            guard case .config(_, let key) = BootConfigName(path: path) else { return nil }
            return BootConfigResponder.machine(for: key, client: client, tables: tables)
        }
        // A MAC name wins whoever asks.
        #expect(machine("pxelinux.cfg/01-52-54-00-00-00-02", from: node)?.purpose == .deploy)
        #expect(machine("pxelinux.cfg/01-52-54-00-00-00-02", from: node)?.mac == MACAddress("52:54:00:00:00:02"))
        // A full hex address names its machine whoever asks.
        #expect(machine("pxelinux.cfg/C6120015", from: stranger)?.mac == bootNode01)
        #expect(machine("pxelinux.cfg/C6120016", from: stranger)?.purpose == .deploy)
        #expect(machine("pxelinux.cfg/C6120063", from: stranger)?.mac == nil)
        // Shorter prefixes, default, grub.cfg and ipxe.cfg: the requester's reservation.
        for path in ["pxelinux.cfg/C612001", "pxelinux.cfg/C61200", "pxelinux.cfg/C", "pxelinux.cfg/default", "grub/grub.cfg", "ipxe.cfg"] {
            let found = machine(path, from: node)
            #expect(found?.mac == bootNode01, "\(path)")
            #expect(found?.purpose == .commission, "\(path)")
            let unknown = machine(path, from: stranger)
            #expect(unknown?.mac == nil && unknown?.purpose == .enlist, "\(path)")
        }
        // A prefix that does not cover the requester gets the generic config.
        #expect(machine("pxelinux.cfg/C61300", from: node)?.mac == nil)
        #expect(machine("pxelinux.cfg/0A", from: node)?.purpose == .enlist)
    }

    // MARK: Purpose × format

    @Test(arguments: BootConfigFormat.allCases)
    func everyPurposeRendersInEveryFormat(format: BootConfigFormat) throws {
        let tables = try bootTables()
        let cases: [(UInt8, BootPurpose)] = [(1, .commission), (2, .deploy), (3, .rescue), (4, .local), (5, .enlist), (6, .local), (9, .enlist)]
        for (n, purpose) in cases {
            let mac = MACAddress(0x5254_0000_0000 | UInt64(n))
            let colons = "52:54:00:00:00:0\(n)"
            let dashes = "52-54-00-00-00-0\(n)"
            let path = switch format {
            case .pxelinux: "pxelinux.cfg/01-\(dashes)"
            case .grub: "grub/grub.cfg-\(colons)"
            case .ipxe: "ipxe.cfg-\(colons)"
            }
            let (verdict, rendered) = bootRender(path, tables: tables)
            #expect(verdict == .config(length: rendered?.utf8.count ?? -1, format: format, purpose: purpose, mac: mac), "\(path)")
            let text = try #require(rendered)
            #expect(!text.contains("{") || format != .pxelinux, "\(text)")
            if purpose == .local {
                #expect(!text.contains("vmlinuz") && !text.contains("rackplane.purpose"))
                switch format {
                case .pxelinux: #expect(text.contains("\n  LOCALBOOT 0\n"))
                case .grub: #expect(text.contains("chainloader /EFI/BOOT/\(n == 4 ? "BOOTAA64" : "BOOTX64").EFI\n") && text.contains("\texit 1\n"))
                case .ipxe: #expect(text.hasPrefix("#!ipxe\n") && text.hasSuffix("\nexit\n"))
                }
                continue
            }
            let tail = "rackplane.purpose=\(purpose.name) rackplane.mac=\(colons)"
            switch format {
            case .pxelinux:
                #expect(text.contains("\n  KERNEL images/vmlinuz\n  INITRD images/initrd.gz\n"))
                #expect(text.contains("\n  APPEND console=ttyS0 \(tail)\n  IPAPPEND 2\n"))
                #expect(text.contains("DEFAULT \(purpose.name)\n") && text.contains("LABEL \(purpose.name)\n"))
                #expect(!text.contains("BOOTIF"), "pxelinux adds BOOTIF itself (IPAPPEND 2)")
            case .grub:
                #expect(text.contains("\tlinux /images/vmlinuz console=ttyS0 BOOTIF=01-\(dashes) \(tail)\n\tinitrd /images/initrd.gz\n"))
            case .ipxe:
                #expect(text.hasPrefix("#!ipxe\n"))
                #expect(text.contains("\nkernel http://198.18.0.1:5248/images/vmlinuz initrd=initrd console=ttyS0 BOOTIF=01-\(dashes) \(tail)\n"))
                #expect(text.contains("\ninitrd --name initrd http://198.18.0.1:5248/images/initrd.gz\nboot\n"))
            }
        }
    }

    @Test func unknownMACEnlistsWithItsMAC() throws {
        let tables = try bootTables()
        let stranger = MACAddress("de:ad:be:ef:00:01")!
        for (path, format) in [("pxelinux.cfg/01-DE-AD-BE-EF-00-01", BootConfigFormat.pxelinux),
                               ("grub/grub.cfg-de:ad:be:ef:00:01", .grub), ("ipxe.cfg-DE:AD:BE:EF:00:01", .ipxe)] {
            let (verdict, text) = bootRender(path, tables: tables)
            let rendered = try #require(text)
            #expect(verdict == .config(length: rendered.utf8.count, format: format, purpose: .enlist, mac: stranger))
            #expect(rendered.contains("rackplane.purpose=enlist rackplane.mac=de:ad:be:ef:00:01\n"))
            #expect(rendered.contains("# RackPlane: enlist de:ad:be:ef:00:01\n"))
            if format != .pxelinux { #expect(rendered.contains(" BOOTIF=01-de-ad-be-ef-00-01 ")) }
        }
    }

    @Test func hexAddressAndDefaultFindTheRequester() throws {
        let tables = try bootTables()
        let node02 = IPv4Address(198, 18, 0, 22)
        for path in ["pxelinux.cfg/C6120016", "pxelinux.cfg/C612001", "pxelinux.cfg/C61200", "pxelinux.cfg/default", "/pxelinux.cfg/default"] {
            let (verdict, text) = bootRender(path, from: node02, tables: tables)
            #expect(verdict == .config(length: text?.utf8.count ?? -1, format: .pxelinux, purpose: .deploy, mac: MACAddress("52:54:00:00:00:02")), "\(path)")
            #expect(text?.contains("rackplane.purpose=deploy rackplane.mac=52:54:00:00:00:02\n") == true)
        }
        let (verdict, text) = bootRender("grub/grub.cfg", from: IPv4Address(198, 18, 0, 26), tables: tables)
        #expect(verdict == .config(length: text?.utf8.count ?? -1, format: .grub, purpose: .local, mac: MACAddress("52:54:00:00:00:06")))
    }

    // MARK: Golden

    @Test func goldenPXELinuxCommission() throws {
        let (_, text) = bootRender("pxelinux.cfg/01-52-54-00-00-00-01", tables: try bootTables())
        #expect(text == """
            # RackPlane: commission node01 52:54:00:00:00:01
            DEFAULT commission
            PROMPT 0
            TIMEOUT 0

            LABEL commission
              KERNEL images/vmlinuz
              INITRD images/initrd.gz
              APPEND console=ttyS0 rackplane.purpose=commission rackplane.mac=52:54:00:00:00:01
              IPAPPEND 2

            """)
    }

    @Test func goldenIPXEEnlistForAnUnknownRequester() throws {
        // ipxe.cfg from an address with no reservation: the MAC comes from iPXE's own variables.
        let (verdict, text) = bootRender("ipxe.cfg", from: IPv4Address(198, 18, 0, 150), tables: try bootTables())
        #expect(verdict == .config(length: text?.utf8.count ?? -1, format: .ipxe, purpose: .enlist, mac: nil))
        #expect(text == """
            #!ipxe
            # RackPlane: enlist ${netX/mac}
            kernel http://198.18.0.1:5248/images/vmlinuz initrd=initrd console=ttyS0 BOOTIF=01-${netX/mac:hexhyp} rackplane.purpose=enlist rackplane.mac=${netX/mac}
            initrd --name initrd http://198.18.0.1:5248/images/initrd.gz
            boot

            """)
    }

    /// The region's per-boot words follow RackPlane's own; a local boot carries none.
    @Test func bootArgumentsFollowTheMachinesWordsAndEnlistmentGetsTheTablesOnes() throws {
        let tables = try bootTables(
            bootArguments: [1: "rackplane.report=http://198.18.0.1:5240/api/v1/machines/7/report rackplane.token=rpb_ab",
                            6: "rackplane.token=never-rendered"],
            enlistArguments: "rackplane.enlist=http://198.18.0.1:5240/api/v1/enlist")
        let (_, commission) = bootRender("pxelinux.cfg/01-52-54-00-00-00-01", tables: tables)
        #expect(commission?.contains("""
              APPEND console=ttyS0 rackplane.purpose=commission rackplane.mac=52:54:00:00:00:01 rackplane.report=http://198.18.0.1:5240/api/v1/machines/7/report rackplane.token=rpb_ab
              IPAPPEND 2
            """) == true)
        let (_, local) = bootRender("ipxe.cfg-52:54:00:00:00:06", tables: tables)
        #expect(local?.contains("never-rendered") == false)
        let (_, unknown) = bootRender("ipxe.cfg", from: IPv4Address(198, 18, 0, 150), tables: tables)
        #expect(unknown?.contains("rackplane.mac=${netX/mac} rackplane.enlist=http://198.18.0.1:5240/api/v1/enlist\n") == true)
        let (_, grub) = bootRender("grub/grub.cfg-52:54:00:00:00:02", tables: tables)
        #expect(grub?.contains("rackplane.mac=52:54:00:00:00:02\n") == true)
    }

    @Test func goldenIPXEDeploy() throws {
        let (_, text) = bootRender("ipxe.cfg-52:54:00:00:00:02", tables: try bootTables())
        #expect(text == """
            #!ipxe
            # RackPlane: deploy node02 52:54:00:00:00:02
            kernel http://198.18.0.1:5248/images/vmlinuz initrd=initrd console=ttyS0 BOOTIF=01-52-54-00-00-00-02 rackplane.purpose=deploy rackplane.mac=52:54:00:00:00:02
            initrd --name initrd http://198.18.0.1:5248/images/initrd.gz
            boot

            """)
    }

    @Test func goldenGRUBRescueAndLocal() throws {
        let tables = try bootTables()
        #expect(bootRender("grub/grub.cfg-52:54:00:00:00:03", tables: tables).text == """
            # RackPlane: rescue node03 52:54:00:00:00:03
            set default=0
            set timeout=0

            menuentry 'rescue' {
            \tlinux /images/vmlinuz console=ttyS0 BOOTIF=01-52-54-00-00-00-03 rackplane.purpose=rescue rackplane.mac=52:54:00:00:00:03
            \tinitrd /images/initrd.gz
            }

            """)
        #expect(bootRender("grub/grub.cfg-52:54:00:00:00:04", tables: tables).text == """
            # RackPlane: local node04 52:54:00:00:00:04
            set default=0
            set timeout=0

            menuentry 'local' {
            \tif search --no-floppy --set=root --file /EFI/BOOT/BOOTAA64.EFI; then
            \t\tchainloader /EFI/BOOT/BOOTAA64.EFI
            \t\tboot
            \tfi
            \texit 1
            }

            """)
        // GRUB's own variable stands in for an unknown requester's MAC.
        let generic = try #require(bootRender("grub/grub.cfg", tables: tables).text)
        #expect(generic.contains("\tlinux /images/vmlinuz console=ttyS0 BOOTIF=01-${net_default_mac} rackplane.purpose=enlist rackplane.mac=${net_default_mac}\n"))
    }

    @Test func goldenPXELinuxLocalAndDefaultWithNothingToSay() throws {
        #expect(bootRender("pxelinux.cfg/01-52-54-00-00-00-06", tables: try bootTables()).text == """
            # RackPlane: local node06 52:54:00:00:00:06
            DEFAULT local
            PROMPT 0
            TIMEOUT 0

            LABEL local
              LOCALBOOT 0

            """)
        // No command line, no hostname, no MAC and no pxelinux variable for it: those words go,
        // with their spaces; the profile's next-server is not needed over TFTP.
        let tables = try bootTables(commandLine: "")
        #expect(bootRender("pxelinux.cfg/default", from: IPv4Address(198, 18, 0, 150), tables: tables).text == """
            # RackPlane: enlist
            DEFAULT enlist
            PROMPT 0
            TIMEOUT 0

            LABEL enlist
              KERNEL images/vmlinuz
              INITRD images/initrd.gz
              APPEND rackplane.purpose=enlist
              IPAPPEND 2

            """)
    }

    // MARK: Details

    @Test func bootifIsTheARPTypeThenTheMACWithDashes() throws {
        let tables = try bootTables()
        let grub = try #require(bootRender("grub/grub.cfg-52-54-00-00-00-0A", tables: tables).text)
        #expect(grub.contains(" BOOTIF=01-52-54-00-00-00-0a rackplane.purpose=deploy rackplane.mac=52:54:00:00:00:0a\n"))
        let ipxe = try #require(bootRender("ipxe.cfg-52:54:00:00:00:0A", tables: tables).text)
        #expect(ipxe.contains(" BOOTIF=01-52-54-00-00-00-0a "))
        let pxelinux = try #require(bootRender("pxelinux.cfg/01-52-54-00-00-00-0a", tables: tables).text)
        #expect(pxelinux.contains("\n  IPAPPEND 2\n") && !pxelinux.contains("BOOTIF="))
    }

    @Test func httpServerIsTheProfilesThenTheSubnetsThenOurs() throws {
        let fromProfile = try bootTables(profileNextServer: IPv4Address(10, 0, 0, 5))
        #expect(bootRender("ipxe.cfg-52:54:00:00:00:01", tables: fromProfile).text?.contains("kernel http://10.0.0.5:5248/images/vmlinuz ") == true)
        let tables = try bootTables()
        #expect(bootRender("ipxe.cfg-52:54:00:00:00:01", tables: tables).text?.contains("kernel http://198.18.0.1:5248/images/vmlinuz ") == true)
        // 198.19.0.0/16 names no next-server: the address the request arrived on.
        #expect(bootRender("ipxe.cfg", from: IPv4Address(198, 19, 3, 4), tables: tables).text?.contains("kernel http://198.18.0.1:5248/") == true)
        var templates = BootTemplates.standard
        templates.httpPort = 80
        #expect(bootRender("ipxe.cfg-52:54:00:00:00:01", tables: tables, templates: templates).text?.contains("initrd http://198.18.0.1:80/images/initrd.gz\n") == true)
    }

    @Test func urlImagesAreKeptAsTheyAre() throws {
        let tables = try bootTables(kernel: "http://images.example/vmlinuz", initrd: "images/initrd.gz")
        let ipxe = try #require(bootRender("ipxe.cfg-52:54:00:00:00:01", tables: tables).text)
        #expect(ipxe.contains("\nkernel http://images.example/vmlinuz initrd=initrd "))
        #expect(ipxe.contains("\ninitrd --name initrd http://198.18.0.1:5248/images/initrd.gz\n"))
        let pxelinux = try #require(bootRender("pxelinux.cfg/01-52-54-00-00-00-01", tables: tables).text)
        #expect(pxelinux.contains("\n  KERNEL http://images.example/vmlinuz\n"))
    }

    @Test func controlCharactersInTableTextCannotAddDirectives() throws {
        let tables = try bootTables(commandLine: "quiet\nLOCALBOOT 0\r")
        let text = try #require(bootRender("pxelinux.cfg/01-52-54-00-00-00-01", tables: tables).text)
        #expect(text.contains("\n  APPEND quiet LOCALBOOT 0  rackplane.purpose=commission "))
        #expect(!text.contains("\nLOCALBOOT"))
    }

    @Test func missingImagesAndSmallBuffersAreNoSuchConfig() throws {
        let noKernel = try bootTables(kernel: "")
        #expect(bootRender("pxelinux.cfg/01-52-54-00-00-00-01", tables: noKernel).verdict == .noSuchConfig(.noBootImage))
        #expect(bootRender("ipxe.cfg", tables: try bootTables(initrd: "")).verdict == .noSuchConfig(.noBootImage))
        #expect(bootRender("grub/grub.cfg", tables: try bootTables(profiles: false)).verdict == .noSuchConfig(.noBootImage))
        // A local boot needs no images.
        let local = bootRender("pxelinux.cfg/01-52-54-00-00-00-06", tables: noKernel)
        #expect(local.text?.contains("LOCALBOOT 0") == true)
        let tables = try bootTables()
        let full = try #require(bootRender("ipxe.cfg-52:54:00:00:00:02", tables: tables).text)
        let exact = full.utf8.count
        #expect(bootRender("ipxe.cfg-52:54:00:00:00:02", tables: tables, capacity: exact).text == full)
        #expect(bootRender("ipxe.cfg-52:54:00:00:00:02", tables: tables, capacity: exact - 1).verdict == .noSuchConfig(.replyTooLarge))
        #expect(bootRender("ipxe.cfg-52:54:00:00:00:02", tables: tables, capacity: 0).verdict == .noSuchConfig(.replyTooLarge))
    }

    @Test func templatesAreData() throws {
        var templates = BootTemplates.standard
        templates.ipxeBoot = "#!ipxe\nset base {http}\n{cmdline} chain ${base}/{kernel} {unknown} {mac} ${netX/ip}\n{hostname} x\n"
        let tables = try bootTables(commandLine: "")
        let text = bootRender("ipxe.cfg-52:54:00:00:00:02", tables: tables, templates: templates).text
        #expect(text == "#!ipxe\nset base http://198.18.0.1:5248\nchain ${base}/images/vmlinuz {unknown} 52:54:00:00:00:02 ${netX/ip}\nnode02 x\n")
    }

    @Test func countersCountByFormatPurposeAndReason() throws {
        let tables = try bootTables()
        var responder = BootConfigResponder()
        var buffer = [UInt8](repeating: 0, count: 2048)
        let request = BootConfigRequest(client: IPv4Address(198, 18, 0, 150), local: rackAddress)
        buffer.withUnsafeMutableBytes { out in
            for path in ["pxelinux.cfg/01-52-54-00-00-00-01", "pxelinux.cfg/01-52-54-00-00-00-01", "ipxe.cfg", "lpxelinux.0", "pxelinux.cfg/zz"] {
                _ = responder.respond(path: path, request: request, tables: tables, output: out)
            }
        }
        #expect(responder.counters.rendered(.pxelinux, .commission) == 2)
        #expect(responder.counters.rendered(.ipxe, .enlist) == 1)
        #expect(responder.counters.rendered(.grub, .enlist) == 0)
        #expect(responder.counters.notBootConfigs == 1)
        #expect(responder.counters.refused[BootConfigRefusal.malformedName.rawValue] == 1)
        #expect(BootConfigRefusal.allCases.map(\.name) == ["malformed_name", "no_boot_image", "reply_too_large"])
    }
}
