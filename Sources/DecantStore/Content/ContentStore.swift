import DecantIO
import DecantOCI
import Foundation
import GRDB
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Blobs by digest (containerd's content store): files under `content/blobs/sha256`, labels in
/// the metadata database.
///
/// A blob is visible under its digest only once it was verified, fsynced and renamed into place,
/// so its file existing is what "the store has it" means; a row without a file is ignored.
public final class ContentStore: Sendable {
    let layout: StoreLayout
    let metadata: MetadataStore
    private let inFlight = InFlightIngests()

    init(layout: StoreLayout, metadata: MetadataStore) {
        self.layout = layout
        self.metadata = metadata
    }

    // MARK: Reading

    /// The blob's info, or `notFound`.
    public func info(_ digest: Digest) throws(StoreError) -> ContentInfo {
        guard let size = fileSize(layout.blob(digest.encoded)) else {
            throw StoreError(.notFound, "content \(digest) not found")
        }
        let record = try metadata.read { db in try ContentRecord.fetchOne(db, key: digest.description) }
        let now = Date()
        return ContentInfo(digest: digest, size: size, labels: record?.labels ?? [:],
                           createdAt: record?.createdAt ?? now, updatedAt: record?.updatedAt ?? now)
    }

    /// Whether the store has the blob.
    public func contains(_ digest: Digest) -> Bool {
        fileSize(layout.blob(digest.encoded)) != nil
    }

    /// The blob's path, for reading.
    public func path(of digest: Digest) throws(StoreError) -> String {
        let path = layout.blob(digest.encoded)
        guard fileSize(path) != nil else { throw StoreError(.notFound, "content \(digest) not found") }
        return path
    }

    /// Every blob, with its labels, that matches `filters` (any of them; see ``Filter``).
    public func list(filters: [Filter] = []) throws(StoreError) -> [ContentInfo] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: layout.blobs)
        } catch {
            throw StoreError(.io, "cannot list \(layout.blobs)", describing: error)
        }
        let records = try metadata.read { db in
            Dictionary(uniqueKeysWithValues: try ContentRecord.fetchAll(db).map { ($0.digest, $0) })
        }
        let now = Date()
        return names.sorted().compactMap { name -> ContentInfo? in
            guard let digest = Digest("sha256:" + name), let size = fileSize(layout.blob(name)) else { return nil }
            let record = records[digest.description]
            let info = ContentInfo(digest: digest, size: size, labels: record?.labels ?? [:],
                                   createdAt: record?.createdAt ?? now, updatedAt: record?.updatedAt ?? now)
            return Filter.matches(filters, Self.fields(of: info)) ? info : nil
        }
    }

    // MARK: Changing

    /// Sets labels. With `fieldPaths` (`labels.KEY`, or `labels` for all) only those labels change
    /// and an empty value removes one; without, the labels are replaced — containerd's `Update`.
    @discardableResult
    public func update(_ digest: Digest, labels: [String: String], fieldPaths: [String] = []) throws(StoreError) -> ContentInfo {
        guard contains(digest) else { throw StoreError(.notFound, "content \(digest) not found") }
        try metadata.write { db in
            let now = Date()
            var record = try ContentRecord.fetchOne(db, key: digest.description)
                ?? ContentRecord(digest: digest.description, labels: [:], createdAt: now, updatedAt: now)
            record.labels = try LabelUpdate.apply(labels, fieldPaths: fieldPaths, to: record.labels)
            record.updatedAt = now
            try record.save(db)
        }
        return try info(digest)
    }

    /// Removes the blob and its labels.
    public func delete(_ digest: Digest) throws(StoreError) {
        let path = layout.blob(digest.encoded)
        guard fileSize(path) != nil else { throw StoreError(.notFound, "content \(digest) not found") }
        try metadata.write { db in _ = try ContentRecord.deleteOne(db, key: digest.description) }
        if unlink(path) != 0 && errno != ENOENT {
            throw StoreError(.io, "cannot remove \(path)", cause: SystemCallError("unlink", path: path, errno: Errno(rawValue: errno)))
        }
    }

    // MARK: Writing

    /// A writer for `ref`, resuming a partial ingest of the same ref where there is one. Fails
    /// with `unavailable` while another writer holds the ref.
    ///
    /// With `hashing` false the writer does not hash what it is given: the caller hashes the same
    /// bytes on their way elsewhere and commits with ``IngestWriter/commit(verified:labels:)``.
    public func writer(ref: String, expected: Digest? = nil, total: Int64? = nil, hashing: Bool = true) throws(StoreError) -> IngestWriter {
        try IngestWriter(store: self, ref: ref, expected: expected, total: total, directory: ingestDirectory(ref), hashing: hashing)
    }

    /// Ingests `digest` once however many callers ask at the same time: the first runs `write`
    /// into a writer; the others, in this process or another, wait for it and get its result.
    /// A blob the store already has is not written again.
    public func ingest(_ digest: Digest, size: Int64, labels: [String: String] = [:],
                       write: @escaping @Sendable (IngestWriter) throws -> Void) async throws -> ContentInfo {
        if contains(digest) { return try info(digest) }
        return try await inFlight.run(digest) { [self] in
            try await BlockingWork.run("decant-ingest") { [self] in
                if contains(digest) { return try info(digest) }
                let ref = "ingest-" + digest.description
                // Across processes: wait for the other writer's lock rather than failing.
                let lockPath = ingestDirectory(ref) + ".wait"
                // Where the file cannot be made, the ingest's own lock still guards.
                let lock = try? OwnedDescriptor.lockedFile(at: lockPath)
                // Removed while still held: a process that opens the path afterwards makes a new
                // file, and one that was waiting on this one sees that it is gone.
                defer { if let lock { unlink(lockPath); withExtendedLifetime(lock) {} } }
                if contains(digest) { return try info(digest) }
                let writer = try writer(ref: ref, expected: digest, total: size)
                try write(writer)
                return try writer.commit(labels: labels)
            }
        }
    }

    /// Partial writes, for `content ls --ingests` and for resuming. One whose `ref` file does not
    /// name it (a crash lost it) is not listed: `gc` removes it once stale.
    public func ingests() throws(StoreError) -> [IngestStatus] {
        ingestDirectories().compactMap { directory in
            guard let ref = ref(naming: directory) else { return nil }
            let started = (try? String(contentsOfFile: directory + "/startedat", encoding: .utf8)).flatMap(Double.init)
            return IngestStatus(
                ref: ref, offset: fileSize(directory + "/data") ?? 0,
                total: (try? String(contentsOfFile: directory + "/total", encoding: .utf8)).flatMap { Int64($0) },
                expected: (try? String(contentsOfFile: directory + "/expected", encoding: .utf8)).flatMap { Digest($0) },
                startedAt: started.map { Date(timeIntervalSince1970: $0) } ?? Date(),
                updatedAt: Self.lastChange(of: directory) ?? Date())
        }
    }

    /// Removes `ref`'s partial write unless a writer (in this process or another) holds it, or,
    /// with `age`, it changed in the last `age` seconds; `false` when it stays. The ingest's
    /// lock is held while it is judged and removed, so no writer can start on it half-way.
    public func abortIfIdle(ref: String, dryRun: Bool = false, olderThan age: TimeInterval? = nil, now: Date = Date()) -> Bool {
        (try? removeIfIdle(ingestDirectory(ref), olderThan: age, now: now, dryRun: dryRun)) ?? false
    }

    /// Removes the ingests whose `ref` file does not name them (a crash lost it before it
    /// reached the disk) once unchanged for longer than `age` and held by no writer: they are
    /// not listed, so a removal by ref never reaches them. Their directory names and sizes.
    func removeUnnamedIngests(olderThan age: TimeInterval, now: Date, dryRun: Bool) -> [(name: String, size: Int64)] {
        var removed: [(name: String, size: Int64)] = []
        for directory in ingestDirectories() where ref(naming: directory) == nil {
            let size = fileSize(directory + "/data") ?? 0
            if (try? removeIfIdle(directory, olderThan: age, now: now, dryRun: dryRun)) ?? false {
                removed.append((String(directory.dropFirst(layout.ingests.count + 1)), size))
            }
        }
        return removed
    }

    /// Every ingest's directory (not those being removed), sorted.
    private func ingestDirectories() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.ingests)) ?? []
        return names.sorted().filter { !$0.hasPrefix(Self.asidePrefix) }.map { layout.ingests + "/" + $0 }
    }

    /// The ref in `directory`'s `ref` file, if it names that directory: a crash can leave the
    /// file missing, empty or torn.
    private func ref(naming directory: String) -> String? {
        guard let ref = try? String(contentsOfFile: directory + "/ref", encoding: .utf8), ingestDirectory(ref) == directory else { return nil }
        return ref
    }

    /// Removes the ingest in `directory` unless a writer holds it or, with `age`, it changed in
    /// the last `age` seconds. Its age is judged with its lock held, on the directory that was
    /// locked: a writer may have resumed it, or replaced it with a new one, since it was listed.
    /// A dry run takes no lock it would have to make (which would make the directory look new).
    /// Throws when the lock cannot be taken or the directory cannot be removed.
    private func removeIfIdle(_ directory: String, olderThan age: TimeInterval?, now: Date, dryRun: Bool) throws(StoreError) -> Bool {
        guard let listed = Self.stamp(directory) else { return false }
        let lockPath = directory + "/lock"
        var lock: OwnedDescriptor?
        if !dryRun || FileManager.default.fileExists(atPath: lockPath) {
            // A lock on a file that was removed since it was opened would guard nothing: the
            // ingest there now may be another writer's.
            let held: OwnedDescriptor?
            do {
                held = try OwnedDescriptor.lockedFileIfFree(at: lockPath)
            } catch where error.errno == .noSuchFileOrDirectory {
                return false
            } catch {
                throw StoreError(.io, "cannot lock the ingest in \(directory)", cause: error)
            }
            guard let held else { return false }
            lock = held
        }
        defer { withExtendedLifetime(lock) {} }
        guard let locked = Self.stamp(directory), locked.inode == listed.inode else { return false }
        if let age {
            // Without data, the directory's time from before the lock file was made.
            let changed = Self.stamp(directory + "/data")?.modified ?? listed.modified
            guard now.timeIntervalSince(changed) > age else { return false }
        }
        if !dryRun { try removeIngestDirectory(directory) }
        return true
    }

    /// When the ingest's data last changed, or (without data) when its directory did.
    private static func lastChange(of directory: String) -> Date? {
        (stamp(directory + "/data") ?? stamp(directory))?.modified
    }

    /// Which file `path` is, and when it last changed; `nil` when it is not there.
    private static func stamp(_ path: String) -> (inode: ino_t, modified: Date)? {
        guard let status = (try? FileDescriptor(rawValue: AT_FDCWD).status(of: path)) ?? nil else { return nil }
        let time = status.modificationTime
        return (status.inode, Date(timeIntervalSince1970: Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9))
    }

    /// Removes a partial write; `unavailable` while a writer holds it.
    public func abort(ref: String) throws(StoreError) {
        let directory = ingestDirectory(ref)
        let notFound = StoreError(.notFound, "ingest \(ref) not found")
        guard FileManager.default.fileExists(atPath: directory) else { throw notFound }
        do throws(StoreError) {
            guard try removeIfIdle(directory, olderThan: nil, now: Date(), dryRun: false) else {
                // A writer that committed or gave up meanwhile took the directory with it.
                guard FileManager.default.fileExists(atPath: directory) else { throw notFound }
                throw StoreError(.unavailable, "ingest \(ref) is being written")
            }
        } catch where error.code == .io {
            throw StoreError(.io, "cannot abort ingest \(ref)", cause: error)
        }
    }

    /// Removes what ingest removals left when their process died half-way through.
    func removeLeftAsideIngests() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.ingests)) ?? []
        for name in names where name.hasPrefix(Self.asidePrefix) {
            try? FileManager.default.removeItem(atPath: layout.ingests + "/" + name)
        }
    }

    // MARK: Internals

    /// Removes an ingest directory whose lock the caller holds. It is renamed aside first, in one
    /// step: a writer that comes meanwhile then makes a directory of its own, where a removal
    /// file by file would let it lock a new `lock` file among the old files and lose them (or
    /// the ones it writes) to the rest of the removal.
    /// Throws when the directory cannot be renamed (it stays whole); what is left aside once it
    /// has been is removed by `gc`.
    func removeIngestDirectory(_ directory: String) throws(StoreError) {
        let aside = layout.ingests + "/" + Self.asidePrefix + UUID().uuidString
        guard rename(directory, aside) == 0 else {
            throw StoreError(.io, "cannot remove the ingest in \(directory)",
                             cause: SystemCallError("rename", path: directory, errno: Errno(rawValue: errno)))
        }
        try? FileManager.default.removeItem(atPath: aside)
    }

    /// How the names of ingest directories being removed start (those of ingests are digests).
    static let asidePrefix = "removing-"

    /// Renames verified, fsynced ingest data (open as `file`) into place and records its labels.
    func publish(ingestData path: String, file: FileDescriptor, digest: Digest, labels: [String: String]) throws(StoreError) -> ContentInfo {
        let target = layout.blob(digest.encoded)
        if rename(path, target) != 0 {
            throw StoreError(.io, "cannot move \(digest) into place", cause: SystemCallError("rename", path: target, errno: Errno(rawValue: errno)))
        }
        Failpoint.hit("content-after-rename")
        return try recordPublished(digest, labels: labels, placed: file)
    }

    /// After a blob's file appeared under its name (`placed`, when this writer put it there):
    /// makes the name durable and records `labels`. When either fails, the write fails and the
    /// name is taken back if it still leads to `placed`, so that the store holds no blob it did
    /// not record. A blob another writer put there stays.
    func recordPublished(_ digest: Digest, labels: [String: String], placed: FileDescriptor?) throws(StoreError) -> ContentInfo {
        do throws(StoreError) {
            try flushBlobDirectory(after: digest)
            try record(digest, labels: labels)
        } catch {
            if let placed { withdraw(digest, placed: placed) }
            throw error
        }
        return try info(digest)
    }

    /// `fsync` of `content/blobs/sha256`: a name added there is on the disk only after it.
    private func flushBlobDirectory(after digest: Digest) throws(StoreError) {
        do throws(SystemCallError) {
            let directory = OwnedDescriptor(taking: try FileDescriptor.openDirectory(FilePath(layout.blobs)))
            if fsync(directory.descriptor.rawValue) != 0 {
                throw SystemCallError("fsync", path: layout.blobs, errno: Errno(rawValue: errno))
            }
        } catch {
            throw StoreError(.io, "cannot flush the content store's directory after adding \(digest)", cause: error)
        }
    }

    /// Removes blob `digest`'s name if it still leads to `placed`. Best effort: on a disk that
    /// failed, the removal may fail too.
    private func withdraw(_ digest: Digest, placed: FileDescriptor) {
        let target = layout.blob(digest.encoded)
        var mine = stat()
        var there = stat()
        guard fstat(placed.rawValue, &mine) == 0, stat(target, &there) == 0,
              mine.st_dev == there.st_dev, mine.st_ino == there.st_ino else { return }
        unlink(target)
    }

    /// Records blob `digest` in the metadata, with `labels` added to any it has.
    private func record(_ digest: Digest, labels: [String: String]) throws(StoreError) {
        do {
            try metadata.write { db in
                let now = Date()
                var record = try ContentRecord.fetchOne(db, key: digest.description)
                    ?? ContentRecord(digest: digest.description, labels: [:], createdAt: now, updatedAt: now)
                record.labels.merge(labels) { _, new in new }
                record.updatedAt = now
                try record.save(db)
            }
        } catch {
            throw StoreError(error.code, "cannot record \(digest)", cause: error)
        }
    }

    func ingestDirectory(_ ref: String) -> String {
        layout.ingests + "/" + Digest.sha256(of: Array(ref.utf8)).encoded
    }

    static func fields(of info: ContentInfo) -> [String: String] {
        var fields = ["digest": info.digest.description, "size": String(info.size)]
        for (key, value) in info.labels { fields["labels." + key] = value }
        return fields
    }
}

/// Concurrent ingests of one digest in this process share the first one's task.
private actor InFlightIngests {
    private var tasks: [Digest: Task<ContentInfo, any Error>] = [:]

    func run(_ digest: Digest, _ body: @escaping @Sendable () async throws -> ContentInfo) async throws -> ContentInfo {
        if let task = tasks[digest] { return try await task.value }
        let task = Task { try await body() }
        tasks[digest] = task
        defer { tasks[digest] = nil }
        return try await task.value
    }
}

func fileSize(_ path: String) -> Int64? {
    var status = stat()
    guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
    return Int64(status.st_size)
}
