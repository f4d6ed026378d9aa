import ArgumentParser
import Glibc
import LeaseStore
import Wire

/// Prints the leases a rack's journal holds (read-only: safe while the rack runs, which only
/// appends).
struct LeasesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leases",
        abstract: "List the DHCP leases recorded in a rack's state directory.")

    @Option(help: "The rack's state directory.")
    var stateDir: String

    @Flag(help: "One JSON object per lease.")
    var json = false

    @Flag(help: "Include released, declined and expired leases.")
    var all = false

    func run() throws {
        let recorded: [UInt32: LeaseRecord]
        do {
            recorded = try LeaseJournal.readLeases(directory: stateDir)
        } catch {
            throw fail("leases: \(error)")
        }
        let now = UInt64(time(nil))
        let leases = recorded.values
            .filter { all || ($0.state == .bound && $0.expiresAt > now) }
            .sorted { $0.address < $1.address }
        for lease in leases {
            let address = IPv4Address(lease.address).description
            let mac = MACAddress(lease.mac).description
            let hostname = String(decoding: lease.hostname, as: UTF8.self)
            let state = lease.expiresAt <= now && lease.state == .bound ? "expired" : "\(lease.state)"
            if json {
                print("{\"address\":\"\(address)\",\"mac\":\"\(mac)\",\"hostname\":\(jsonQuote(hostname)),\"state\":\"\(state)\",\"expires_at\":\(lease.expiresAt),\"sequence\":\(lease.sequence)}")
            } else {
                print("\(address.padding(16)) \(mac)  \(state.padding(9)) expires \(lease.expiresAt)  \(hostname)")
            }
        }
    }
}
