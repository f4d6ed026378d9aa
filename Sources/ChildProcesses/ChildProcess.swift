import CLinuxShims
import Glibc

/// Starting child processes from a daemon (squid and PostgreSQL's tools from the region, the
/// site compiler from a standalone rack): posix_spawn, with what a daemon's child needs that
/// Foundation's Process does not give.
public enum ChildProcess {
    public struct SpawnError: Error, CustomStringConvertible {
        public var command: String
        public var errno: Int32
        public var description: String { "could not run \(command): \(String(cString: strerror(errno)))" }
    }

    /// Starts `arguments` with stdin on /dev/null and the parent's stdout and stderr (squid's
    /// fatal messages land in the region's log) or `output`, in a process group of its own.
    /// Signals the parent ignores, handles or blocks are back to their defaults in the child:
    /// swift-service-lifecycle sets SIGTERM and SIGINT to SIG_IGN, a process that runs an
    /// `Engine` ignores SIGPIPE, which exec would otherwise pass on, and the rack blocks the
    /// signals it waits for.
    public static func spawn(_ arguments: [String], output: Int32? = nil) throws(SpawnError) -> pid_t {
        // The region's listening socket and database connections, the rack's sockets and rings,
        // must not live on in the child.
        markInheritedDescriptorsCloseOnExec()
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
        // A process group of its own: Ctrl-C on the daemon's terminal reaches the daemon, which
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
    public static func waitForExit(_ child: pid_t) {
        var info = siginfo_t()
        while waitid(P_PID, id_t(child), &info, WEXITED | WNOWAIT) < 0, errno == EINTR {}
    }

    /// Collects an exited child; its exit status, or 128 + the signal that ended it, or -1 when
    /// it cannot be collected (SIGCHLD ignored: the kernel reaped it, and its status is gone).
    @discardableResult
    public static func reap(_ child: pid_t) -> Int32 {
        var status: Int32 = 0
        var collected: pid_t
        repeat { collected = waitpid(child, &status, 0) } while collected < 0 && errno == EINTR
        guard collected == child else { return -1 }
        // WIFEXITED / WEXITSTATUS / WTERMSIG spelled out: the macros are not imported.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Runs to completion: the exit status as `reap` gives it, and what it printed (kept out of
    /// the parent's log unless the caller wants it there).
    public static func run(_ arguments: [String]) throws(SpawnError) -> (status: Int32, output: String) {
        var ends: [Int32] = [0, 0]
        // Both ends close on exec from the start (another thread may spawn meanwhile); only the
        // dup'd copies reach the child.
        guard rp_pipe2(&ends, O_CLOEXEC) == 0 else { throw SpawnError(command: arguments[0], errno: errno) }
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

    /// A child inherits every descriptor not marked close-on-exec, and pg_ctl leaves a server
    /// running after it exits: any descriptor it inherits stays open as long as the server
    /// does. A build lock held by a caller (`flock FILE swift test`) once outlived the tests
    /// that way. So every descriptor above stderr is marked close-on-exec before spawning;
    /// only the output pipe, dup'd onto 1 and 2, reaches the child.
    public static func markInheritedDescriptorsCloseOnExec() {
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        let own = dirfd(directory)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let descriptor = Int32(name), descriptor > 2, descriptor != own else { continue }
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0, flags & FD_CLOEXEC == 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }
}
