import ArgumentParser

@main
struct RackPlaneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rackplane",
        abstract: "Bare-metal provisioning: region control plane, rack data plane, and tools.",
        subcommands: [
            RegionCommand.self, RackCommand.self, LeasesCommand.self, TablesCommand.self, PcapCommand.self, LoadgenCommand.self,
            VersionCommand.self,
            // The API client (docs/cli.md).
            LoginCommand.self, MachinesCommand.self, SubnetsCommand.self, RangesCommand.self, RecordsCommand.self,
            RacksCommand.self, EventsCommand.self, FabricsCommand.self, VLANsCommand.self,
        ]
    )
}
