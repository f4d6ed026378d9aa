import ArgumentParser

@main
struct RackPlaneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rackplane",
        abstract: "Bare-metal provisioning: region control plane, rack data plane, and tools.",
        subcommands: [RackCommand.self, LeasesCommand.self, TablesCommand.self, PcapCommand.self, VersionCommand.self]
    )
}
