import ArgumentParser
import CLibPQ
import CLibPcap
import CLibURing
import Glibc

/// Prints the versions of the system libraries the binary linked against and whether this
/// kernel lets us create an io_uring (it may be disabled by sysctl or seccomp).
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Show versions and io_uring availability.")

    func run() throws {
        print("rackplane \(RackPlaneVersion.string)")
        let pq = PQlibVersion()
        print("libpq \(pq / 10000).\(pq % 10000)")
        print(String(cString: pcap_lib_version()))
        var ring = io_uring()
        let result = io_uring_queue_init(2, &ring, 0)
        if result == 0 {
            io_uring_queue_exit(&ring)
            print("io_uring: available")
        } else {
            print("io_uring: unavailable (\(String(cString: strerror(-result))))")
        }
    }
}

enum RackPlaneVersion {
    static let string = "0.1.0"
}
