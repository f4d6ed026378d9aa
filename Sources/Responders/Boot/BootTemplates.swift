/// The boot configs the rack renders, as data: one template per boot-loader format for a
/// kernel boot (commission, deploy, rescue, enlist) and one for a local-disk boot.
/// `docs/boot-configs.md` shows each rendered.
///
/// A template is plain text with named placeholders in braces (`BootPlaceholder`); braces that
/// do not spell a placeholder (iPXE's `${netX/mac}`, GRUB's `${root}`) are copied as they are.
/// A placeholder with no value (an empty `{cmdline}` or `{hostname}`, or `{mac}` for a machine
/// the name does not identify when the loader has no variable for it) removes the whole word
/// it stands in — up to the nearest blank on each side — with the space before it.
public struct BootTemplates: Sendable {
    public var pxelinuxBoot: String
    public var pxelinuxLocal: String
    public var grubBoot: String
    public var grubLocal: String
    public var ipxeBoot: String
    public var ipxeLocal: String
    /// The image HTTP port, for `{http}`, `{kernel-url}` and `{initrd-url}`.
    public var httpPort: UInt16

    public init(pxelinuxBoot: String, pxelinuxLocal: String, grubBoot: String, grubLocal: String,
                ipxeBoot: String, ipxeLocal: String, httpPort: UInt16 = 5248) {
        self.pxelinuxBoot = pxelinuxBoot
        self.pxelinuxLocal = pxelinuxLocal
        self.grubBoot = grubBoot
        self.grubLocal = grubLocal
        self.ipxeBoot = ipxeBoot
        self.ipxeLocal = ipxeLocal
        self.httpPort = httpPort
    }

    /// The template for `format`: the local-disk one when `local`, else the kernel one.
    public func template(_ format: BootConfigFormat, local: Bool) -> String {
        switch format {
        case .pxelinux: local ? pxelinuxLocal : pxelinuxBoot
        case .grub: local ? grubLocal : grubBoot
        case .ipxe: local ? ipxeLocal : ipxeBoot
        }
    }

    /// What `{mac}` and `{bootif}` become when the requested name does not identify the machine
    /// (`ipxe.cfg`, `grub/grub.cfg`, `pxelinux.cfg/default` from an address with no
    /// reservation): the loader's own variable, expanded on the machine. pxelinux has none,
    /// but its `IPAPPEND 2` appends `BOOTIF` itself.
    public static func runtimeMAC(_ format: BootConfigFormat) -> (mac: String, bootif: String)? {
        switch format {
        case .pxelinux: nil
        // iPXE: netX is the device it booted from; `:hexhyp` prints the MAC with dashes.
        case .ipxe: ("${netX/mac}", "01-${netX/mac:hexhyp}")
        // GRUB's net module sets net_default_mac (colon-separated) when it netboots.
        case .grub: ("${net_default_mac}", "01-${net_default_mac}")
        }
    }

    /// The templates the rack serves unless told otherwise.
    public static let standard = BootTemplates(
        // SYSLINUX: KERNEL and INITRD are relative to the directory lpxelinux.0 came from (the
        // files root); IPAPPEND 2 adds BOOTIF=01-<mac> of the booting interface.
        pxelinuxBoot: """
            # RackPlane: {purpose} {hostname} {mac}
            DEFAULT {purpose}
            PROMPT 0
            TIMEOUT 0

            LABEL {purpose}
              KERNEL {kernel}
              INITRD {initrd}
              APPEND {cmdline} rackplane.purpose={purpose} rackplane.mac={mac} {boot-args}
              IPAPPEND 2

            """,
        pxelinuxLocal: """
            # RackPlane: local {hostname} {mac}
            DEFAULT local
            PROMPT 0
            TIMEOUT 0

            LABEL local
              LOCALBOOT 0

            """,
        // GRUB paths are absolute on its root device, (tftp,<next-server>) when netbooted.
        grubBoot: """
            # RackPlane: {purpose} {hostname} {mac}
            set default=0
            set timeout=0

            menuentry '{purpose}' {
            \tlinux /{kernel} {cmdline} BOOTIF={bootif} rackplane.purpose={purpose} rackplane.mac={mac} {boot-args}
            \tinitrd /{initrd}
            }

            """,
        // Chain-load the disk's removable-media loader; without one, hand back to the firmware,
        // which moves on to its next boot option.
        grubLocal: """
            # RackPlane: local {hostname} {mac}
            set default=0
            set timeout=0

            menuentry 'local' {
            \tif search --no-floppy --set=root --file /EFI/BOOT/{efi-loader}; then
            \t\tchainloader /EFI/BOOT/{efi-loader}
            \t\tboot
            \tfi
            \texit 1
            }

            """,
        // iPXE fetches over HTTP. `initrd=initrd` names the image for EFI-stub kernels.
        ipxeBoot: """
            #!ipxe
            # RackPlane: {purpose} {hostname} {mac}
            kernel {kernel-url} initrd=initrd {cmdline} BOOTIF={bootif} rackplane.purpose={purpose} rackplane.mac={mac} {boot-args}
            initrd --name initrd {initrd-url}
            boot

            """,
        // `exit` returns to the firmware, which boots the next device (the disk).
        ipxeLocal: """
            #!ipxe
            # RackPlane: local {hostname} {mac}
            exit

            """
    )
}

/// The names a template may use, each in braces.
public enum BootPlaceholder: String, CaseIterable, Sendable {
    /// `commission`, `deploy`, `rescue`, `enlist` or `local`.
    case purpose
    /// The MAC, lower case with colons: `52:54:00:00:00:01`.
    case mac
    /// pxelinux's BOOTIF value: `01-52-54-00-00-00-01`.
    case bootif
    /// The reservation's hostname (no value for an unknown machine).
    case hostname
    /// The boot profile's kernel, relative to the files root (leading `/` removed); a URL
    /// (`scheme://…`) is copied as it is.
    case kernel
    /// The boot profile's initrd, as `{kernel}`.
    case initrd
    /// The kernel as an absolute URL: `{http}/{kernel}`, or the profile's URL as it is.
    case kernelURL = "kernel-url"
    /// The initrd as an absolute URL.
    case initrdURL = "initrd-url"
    /// The image HTTP server: `http://<next-server>:<port>`, next-server being the boot
    /// profile's, else the subnet's, else the address the request arrived on.
    case http
    /// The boot profile's kernel command line (no value when empty).
    case cmdline
    /// The UEFI removable-media loader for the machine's architecture: `BOOTX64.EFI`,
    /// `BOOTAA64.EFI`, `BOOTIA32.EFI`.
    case efiLoader = "efi-loader"
    /// The machine's per-boot arguments from the region (`rackplane.report=… rackplane.token=…
    /// rackplane.system_id=…` while it commissions or deploys), or for a machine the tables do
    /// not know the enlistment arguments (`rackplane.enlist=…`); no value when there are none.
    case bootArgs = "boot-args"
}
