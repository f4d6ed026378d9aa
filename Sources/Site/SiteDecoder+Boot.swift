import Yams

extension SiteDecoder {
    static let bootKeys = ["files", "http_boot_url", "ipxe_script", "kernel", "initrd", "cmdline"]

    mutating func boot(_ node: Node) -> SiteBoot? {
        guard let fields = reader.fields(node, "boot", allowed: Self.bootKeys) else { return nil }
        var boot = SiteBoot(line: node.position.line)
        if let filesNode = fields["files"],
           let files = reader.fields(filesNode, "boot.files", allowed: SiteArchitecture.allCases.map(\.rawValue)) {
            for architecture in SiteArchitecture.allCases {
                boot.files[architecture] = reader.optionalText(files, architecture.rawValue)
            }
        }
        boot.httpBootURL = reader.optionalText(fields, "http_boot_url")
        boot.ipxeScript = reader.optionalText(fields, "ipxe_script")
        boot.kernel = reader.optionalText(fields, "kernel")
        boot.initrd = reader.optionalText(fields, "initrd")
        // An empty command line is a real choice, so it is kept as written.
        if let cmdline = fields["cmdline"] { boot.cmdline = reader.text(cmdline, "cmdline") }
        return boot
    }
}
