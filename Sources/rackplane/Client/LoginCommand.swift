import ArgumentParser
import Region

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Check an API token against a region and remember both for the other commands.",
        discussion: """
        Saves URL and TOKEN in $XDG_CONFIG_HOME/rackplane/cli.json (default ~/.config/rackplane,
        mode 0600). RACKPLANE_URL and RACKPLANE_TOKEN override what is saved. The region printed
        an admin token on its first start (STATE_DIR/admin-token).
        """)

    @Argument(help: "The region, http://HOST:5240.")
    var url: String

    @Argument(help: "An API token (rp_…).")
    var token: String

    func run() async throws {
        do {
            let configuration = ClientConfiguration(url: url, token: token)
            let identity = try await RegionClient(configuration).get("/whoami").value
            try configuration.save()
            print("logged in to \(url) as \(identity.cell("username")) (\(identity.cell("role"))); saved in \(ClientConfiguration.path)")
        } catch let error as ClientError {
            throw fail("rackplane: \(error.description)")
        }
    }
}
