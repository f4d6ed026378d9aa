import Glibc

/// Starting squid (and `squid -z`) from the region: posix_spawn, with what a daemon's child
/// needs that Foundation's Process does not give.
enum ChildProcess {
    struct SpawnError: Error, CustomStringConvertible {
        var command: String
        var errno: Int32
        var description: String { "could not run \(command): \(String(cString: strerror(errno)))" }
    }

    /// Starts `arguments` with stdin on /dev/null and the region's stdout and stderr (squid's
    /// fatal messages land in the region's log), in a process group of its own. Signals the region ignores or handles are back
    /// to their defaults in the child: swift-service-lifecycle sets SIGTERM and SIGINT to
    /// SIG_IGN, and a process that runs an `Engine` ignores SIGPIPE, which exec would
    /// otherwise pass on.
    static func spawn(_ arguments: [String], output: Int32? = nil) throws(SpawnError) -> pid_t {
        // The API's listening socket and the database connections must not live on in squid.
        EmbeddedCluster.markInheritedDescriptorsCloseOnExec()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let output {
            posix_spawn_file_actions_adddup2(&actions, output, 1)
            posix_spawn_file_actions_adddup2(&actions, output, 2)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        // A process group of its own: Ctrl-C on the region's terminal reaches the region, which
        // then stops squid itself, rather than both at once (which looks like squid dying).
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, arguments[0], &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw SpawnError(command: arguments[0], errno: spawned) }
        return child
    }

    /// Blocks until `child` has exited, without reaping it: its pid stays ours (a zombie) until
    /// `reap`, so a signal sent by pid meanwhile cannot reach another process.
    static func waitForExit(_ child: pid_t) {
        var info = siginfo_t()
        while waitid(P_PID, id_t(child), &info, WEXITED | WNOWAIT) < 0, errno == EINTR {}
    }

    /// Collects an exited child; its exit status, or 128 + the signal that ended it.
    @discardableResult
    static func reap(_ child: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0, errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG spelled out: the macros are not imported.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Runs to completion: the exit status as `reap` gives it, and what it printed (kept out of
    /// the region's log unless the caller wants it there).
    static func run(_ arguments: [String]) throws(SpawnError) -> (status: Int32, output: String) {
        var ends: [Int32] = [0, 0]
        // Both ends close on exec (spawn marks every descriptor so); only the dup'd copies reach the child.
        guard pipe(&ends) == 0 else { throw SpawnError(command: arguments[0], errno: errno) }
        let child: pid_t
        do {
            child = try spawn(arguments, output: ends[1])
        } catch {
            close(ends[0])
            close(ends[1])
            throw error
        }
        close(ends[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
            if count > 0 {
                output += buffer[0..<count]
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(ends[0])
        return (reap(child), String(decoding: output, as: UTF8.self))
    }
}
