import ArgumentParser

@main
struct RackPlaneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rackplane",
        abstract: "Bare-metal provisioning: region control plane, rack data plane, and tools.",
        subcommands: [RegionCommand.self, RackCommand.self, LeasesCommand.self, TablesCommand.self, PcapCommand.self, LoadgenCommand.self, VersionCommand.self]
    )
}
