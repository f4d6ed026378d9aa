import Foundation
import Glibc
import Synchronization
import Tables
import Wire

/// A connected rack's copy of the region's boot files (docs/rack-region-protocol.md, "Boot
/// files"). Files are kept by content address in `STATE_DIR/images/SHA256`, downloaded to a
/// `.partial` name, checked against the size and SHA-256 the region lists, and renamed into
/// place only when they match. Each is then hard-linked at its served path under the files root
/// (`name/architecture/file`), replaced atomically, so a TFTP or HTTP transfer in flight keeps
/// reading the file it opened. Paths it created and no longer needs are removed; anything else
/// in the files root (boot loaders an operator put there) is left alone.
final class ImageCache: Sendable {
    struct Entry: Decodable, Equatable, Sendable {
        var path: String
        var sha256: String
        var size: Int64
    }

    struct Listing: Decodable {
        var files: [Entry]
    }

    let cacheDirectory: String
    let filesRoot: String
    let log: RackLog
    /// Where a file made ready or refused is recorded for the region's event log.
    let events: RackEventJournal?
    let status = Mutex(Status())
    /// Files whose failure is already an event (one event per file, not one per retry).
    private let reportedFailures = Mutex(Set<String>())

    /// What the metrics endpoint shows.
    struct Status: Sendable {
        var filesReady = 0
        var filesWanted = 0
        var bytesReady: Int64 = 0
        var bytesDownloaded: Int64 = 0
        var downloadsCompleted = 0
        var downloadsFailed = 0
    }

    /// The list of paths this cache created, so it removes only its own.
    var manifestPath: String { filesRoot + "/.rackplane-boot-files" }

    init(cacheDirectory: String, filesRoot: String, log: RackLog, events: RackEventJournal? = nil) {
        self.cacheDirectory = cacheDirectory
        self.filesRoot = filesRoot
        self.log = log
        self.events = events
        // Before the TFTP and HTTP services open the files root: it must exist from the start.
        makeDirectories(cacheDirectory)
        makeDirectories(filesRoot)
    }

    /// Brings the cache and the files root in line with `entries`; `download` writes one file's
    /// bytes to the sink it is given. A file that fails is logged and counted; the others still
    /// sync. Returns the number of files that are not ready.
    @discardableResult
    func sync(_ entries: [Entry], download: (Entry, (UnsafeRawBufferPointer) throws -> Void) throws -> Void) -> Int {
        let valid = entries.filter { entry in
            guard Self.isSafe(entry.path), entry.sha256.utf8.count == 64, entry.size >= 0 else {
                log.warning("images: ignoring boot file entry with an unusable path or digest: \(entry.path)")
                return false
            }
            return true
        }
        makeDirectories(cacheDirectory)
        makeDirectories(filesRoot)
        var missing = 0
        var bySHA: [String: Entry] = [:]
        for entry in valid { bySHA[entry.sha256] = entry }
        for (_, entry) in bySHA.sorted(by: { $0.key < $1.key }) where !isCached(entry) {
            do {
                try fetch(entry, download: download)
            } catch {
                missing += 1
                status.withLock { $0.downloadsFailed += 1 }
                log.error("images: \(entry.path) (\(entry.sha256.prefix(12))): \(error); will retry")
                if reportedFailures.withLock({ $0.insert(entry.sha256).inserted }) {
                    events?.record("image-failed", "\(entry.path) (sha256 \(entry.sha256.prefix(12))): \(error); retrying")
                }
            }
        }
        // Served paths: hard links to the cache, swapped in atomically.
        var linked: [String] = []
        for entry in valid where isCached(entry) {
            do {
                try link(entry)
                linked.append(entry.path)
            } catch {
                log.error("images: cannot place \(entry.path): \(error)")
            }
        }
        let previous = Set(readManifest())
        for stale in previous.subtracting(linked) {
            unlink(filesRoot + "/" + stale)
        }
        writeManifest(linked.sorted())
        // Cache entries nobody lists any more (served links keep open files readable).
        let wanted = Set(valid.map(\.sha256))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: cacheDirectory)) ?? [] where !wanted.contains(name) {
            unlink(cacheDirectory + "/" + name)
        }
        let ready = valid.filter(isCached)
        status.withLock {
            $0.filesWanted = valid.count
            $0.filesReady = ready.count
            $0.bytesReady = ready.reduce(0) { $0 + $1.size }
        }
        return missing
    }

    /// A relative path without `..`, empty or odd components.
    static func isSafe(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/"), path.utf8.count < 1024 else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part != "." && part != ".." && !part.hasPrefix(".rackplane")
        }
    }

    func isCached(_ entry: Entry) -> Bool {
        var info = stat()
        return stat(cacheDirectory + "/" + entry.sha256, &info) == 0 && Int64(info.st_size) == entry.size
    }

    private func fetch(_ entry: Entry, download: (Entry, (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let final = cacheDirectory + "/" + entry.sha256
        let partial = final + ".partial"
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RackError(description: "cannot create \(partial): \(String(cString: strerror(errno)))") }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        var hasher = SHA256()
        var received: Int64 = 0
        var nextReport: Int64 = 0
        let reportStep = max(entry.size / 10, 1)
        log.info("images: downloading \(entry.path) (\(entry.size) bytes, \(entry.sha256.prefix(12)))")
        do {
            try download(entry) { bytes in
                received += Int64(bytes.count)
                guard received <= entry.size else {
                    throw RackError(description: "the region sent more than the \(entry.size) bytes listed")
                }
                hasher.update(bytes)
                var written = 0
                while written < bytes.count {
                    let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
                    if n < 0, errno == EINTR { continue }
                    guard n > 0 else { throw RackError(description: "write \(partial): \(String(cString: strerror(errno)))") }
                    written += n
                }
                status.withLock { $0.bytesDownloaded += Int64(bytes.count) }
                if received >= nextReport, entry.size > 0 {
                    log.info("images: \(entry.path) \(received * 100 / entry.size) % (\(received)/\(entry.size) bytes)")
                    nextReport = received + reportStep
                }
            }
            guard received == entry.size else {
                throw RackError(description: "got \(received) bytes, the region lists \(entry.size)")
            }
            let digest = hexString(hasher.finish())
            guard digest == entry.sha256 else {
                throw RackError(description: "SHA-256 \(digest) is not the listed \(entry.sha256)")
            }
            guard fsync(fd) == 0 else { throw RackError(description: "fsync \(partial): \(String(cString: strerror(errno)))") }
            close(fd)
            closed = true
            guard rename(partial, final) == 0 else { throw RackError(description: "rename \(partial): \(String(cString: strerror(errno)))") }
            status.withLock { $0.downloadsCompleted += 1 }
            reportedFailures.withLock { _ = $0.remove(entry.sha256) }
            events?.record("image-ready", "\(entry.path): \(entry.size) bytes, sha256 \(entry.sha256.prefix(12)) verified")
            log.info("images: \(entry.path) 100 % (\(received) bytes), SHA-256 verified, ready")
        } catch {
            unlink(partial)
            throw error
        }
    }

    private func link(_ entry: Entry) throws {
        let target = filesRoot + "/" + entry.path
        let source = cacheDirectory + "/" + entry.sha256
        var current = stat(), cached = stat()
        if stat(target, &current) == 0, stat(source, &cached) == 0, current.st_ino == cached.st_ino, current.st_dev == cached.st_dev {
            return
        }
        makeDirectories((target as NSString).deletingLastPathComponent)
        let temporary = target + ".rackplane-new"
        unlink(temporary)
        guard Glibc.link(source, temporary) == 0 else { throw RackError(description: "link: \(String(cString: strerror(errno)))") }
        guard rename(temporary, target) == 0 else {
            unlink(temporary)
            throw RackError(description: "rename: \(String(cString: strerror(errno)))")
        }
    }

    private func makeDirectories(_ path: String) {
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    private func readManifest() -> [String] {
        guard let text = try? String(contentsOfFile: manifestPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init).filter(Self.isSafe)
    }

    private func writeManifest(_ paths: [String]) {
        let temporary = manifestPath + ".new"
        let text = paths.map { $0 + "\n" }.joined()
        guard (try? text.write(toFile: temporary, atomically: false, encoding: .utf8)) != nil else { return }
        rename(temporary, manifestPath)
    }

    func renderMetrics() -> String {
        let s = status.withLock { $0 }
        return """
            # HELP rackplane_rack_image_files Boot files the region lists for this rack, and how many are in the cache.
            # TYPE rackplane_rack_image_files gauge
            rackplane_rack_image_files{state="wanted"} \(s.filesWanted)
            rackplane_rack_image_files{state="ready"} \(s.filesReady)
            # HELP rackplane_rack_image_ready_bytes Bytes of boot files ready to serve.
            # TYPE rackplane_rack_image_ready_bytes gauge
            rackplane_rack_image_ready_bytes \(s.bytesReady)
            # HELP rackplane_rack_image_downloaded_bytes_total Bytes downloaded from the region into the image cache.
            # TYPE rackplane_rack_image_downloaded_bytes_total counter
            rackplane_rack_image_downloaded_bytes_total \(s.bytesDownloaded)
            # HELP rackplane_rack_image_downloads_total Boot file downloads, by result.
            # TYPE rackplane_rack_image_downloads_total counter
            rackplane_rack_image_downloads_total{result="completed"} \(s.downloadsCompleted)
            rackplane_rack_image_downloads_total{result="failed"} \(s.downloadsFailed)

            """
    }
}
