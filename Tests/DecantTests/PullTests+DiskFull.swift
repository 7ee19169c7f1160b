import Decant
import DecantStore
import DecantTestSupport
import Foundation
import Testing

extension PullTests {
    /// A store on a file system that fills up during the pull (a node out of disk): the pull
    /// fails with ENOSPC naming the image and the layer, nothing is committed or left active,
    /// and the store takes the next pull.
    @Test func aFullFileSystemFailsThePullCleanly() async throws {
        let scratch = try Scratch("disk-full")
        let layout = scratch.url.appendingPathComponent("big").path
        // 24 MiB of incompressible data: the blob and the extracted file together need 48 MiB.
        try await Shell.check(["python3", RegistryServer.scripts.appendingPathComponent("make-big-image.py").path, layout, "24"])
        let volume = try SmallVolume(in: scratch, megabytes: 40)
        defer { volume.unmount() }
        let store = try Store(layout: StoreLayout(root: volume.mountPoint.appendingPathComponent("root").path))

        let error = try await #require(throws: PullError.self) {
            try await Puller(store: store).pull("oci:\(layout):latest", options: PullOptions())
        }
        #expect(error.description.contains("No space left on device") || error.description.contains("ENOSPC"), "\(error)")
        #expect(error.image.contains(layout), "\(error)")
        #expect(error.layer != nil, "\(error)")
        let snapshots = try store.overlay.walk(filters: [])
        #expect(snapshots.isEmpty, "snapshots left: \(snapshots.map(\.name))")
        #expect(try store.images.list().isEmpty)

        // Not wedged: what the failed pull prepared is gone, and a small image fits.
        let fixtures = try await ImageFixtures.get()
        let small = try await Puller(store: store).pull("oci:" + fixtures.path(fixtures.image("multi").layout) + ":latest",
                                                        options: PullOptions())
        #expect(!small.layers.isEmpty)
    }

    /// Only the content store's disk fills up: the layer extracts and verifies, but its blob
    /// could not be written whole. The pull fails naming the layer, and the part of the blob
    /// that was written does not stay behind as an ingest (only a broken transfer keeps one,
    /// to resume from).
    @Test func aBlobTheContentStoreCannotHoldFailsItsLayerAndLeavesNoIngest() async throws {
        let scratch = try Scratch("content-full")
        let layout = scratch.url.appendingPathComponent("big").path
        let made = try await Shell.check(["python3", RegistryServer.scripts.appendingPathComponent("make-big-image.py").path, layout, "48"])
        let big = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: Any])
        let volume = try SmallVolume(in: scratch, megabytes: 32)
        defer { volume.unmount() }
        let root = scratch.url.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root.path + "/content", withDestinationPath: volume.mountPoint.path)
        let store = try Store(layout: StoreLayout(root: root.path))

        let error = try await #require(throws: PullError.self) {
            try await Puller(store: store).pull("oci:\(layout):latest", options: PullOptions(linkLocalBlobs: false))
        }
        #expect(error.description.contains("No space left on device"), "\(error)")
        #expect(error.layer == big["layer"] as? String, "\(error)")
        #expect(try store.content.ingests().isEmpty)
        #expect(try store.overlay.walk(filters: []).isEmpty)
    }

    /// The disk fills up at the worst moment: the layer is extracted and verified, and what is
    /// left is storing its blob (here a copy: the layout is on another file system) and
    /// committing its snapshot, which write files and the database. The pull fails with the
    /// disk-full error naming the image and the layer, and its rollback, which writes to the
    /// database too, leaves the store exactly as it was; once there is space the same pull goes
    /// through.
    @Test func aDiskThatFillsUpBeforeTheCommitLeavesTheStoreAsItWas() async throws {
        let fixtures = try await ImageFixtures.get()
        let scratch = try Scratch("disk-full-commit")
        // One layer, so that nothing but its blob's record and its commit follows its extraction.
        let layout = scratch.url.appendingPathComponent("one").path
        try await Shell.check(["python3", RegistryServer.scripts.appendingPathComponent("make-big-image.py").path, layout, "1"])
        let volume = try SmallVolume(in: scratch, megabytes: 40)
        defer { volume.unmount() }
        let root = volume.mountPoint.appendingPathComponent("root").path
        let store = try Store(layout: StoreLayout(root: root))
        _ = try await Puller(store: store).pull("oci:" + fixtures.path("shared-a") + ":latest")
        func state() throws -> [String] {
            try store.images.list().map(\.name) + store.content.list().map(\.digest.description)
                + store.overlay.walk(filters: []).map { "\($0.name) \($0.kind)" } + store.content.ingests().map(\.ref)
                + store.leases.list().map(\.id)
                + FileManager.default.contentsOfDirectory(atPath: root + "/snapshots/overlay").sorted()
        }
        let before = try state()

        let filler = DiskFiller(on: volume.mountPoint)
        let error = try await #require(throws: PullError.self) {
            try await Puller(store: store).pull("oci:\(layout):latest", options: PullOptions(events: filler))
        }
        #expect(filler.filled)
        #expect(error.description.contains("disk is full") || error.description.contains("No space left on device"), "\(error)")
        #expect(error.image.contains(layout), "\(error)")
        #expect(try state() == before)

        try FileManager.default.removeItem(at: filler.file)
        let result = try await Puller(store: store).pull("oci:\(layout):latest")
        #expect(result.layers.map(\.status) == ["unpacked"])
        #expect(error.layer == result.layers.first?.digest.description, "\(error)")
    }
}

/// Fills a file system to its last block when a pull has extracted a layer, so that the writes
/// that come next meet ENOSPC.
final class DiskFiller: EventSink, @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    let file: URL

    init(on volume: URL) {
        file = volume.appendingPathComponent("filler")
    }

    var filled: Bool { lock.withLock { done } }

    func emit(_ event: Event) {
        guard event.type == "layer-extracted" else { return }
        lock.withLock {
            if done { return }
            Self.fill(file)
            done = true
        }
    }

    /// Writes `file` until the file system refuses even a 512-byte write, then makes it durable.
    static func fill(_ file: URL) {
        let fd = open(file.path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let buffer = [UInt8](repeating: 0x5a, count: 1 << 20)
        var size = buffer.count
        while size >= 512 {
            if buffer.withUnsafeBytes({ write(fd, $0.baseAddress, size) }) < 0 { size /= 2 }
        }
        fsync(fd)
    }
}

extension PullTests {
    /// Events are a record, not the work: an events file that cannot take a line (`/dev/full`
    /// fails every write with ENOSPC, as a full disk does) neither ends nor fails the pull, and
    /// the other sinks still get every event.
    @Test func anEventsFileThatCannotBeWrittenDoesNotStopThePull() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("events-full")
        defer { withExtendedLifetime(scratch) {} }
        let events = EventLog()
        let sinks = EventFanOut([try JSONLinesEventSink(path: "/dev/full"), events])
        let result = try await Puller(store: store).pull("oci:" + fixtures.path("shared-a") + ":latest",
                                                         options: PullOptions(events: sinks))
        #expect(result.layers.map(\.status) == ["unpacked", "unpacked", "unpacked"])
        #expect(events.all.filter { $0.type == "snapshot-commit" }.count == 3)
        #expect(events.all.last?.type == "unpack-finish")
    }
}

extension PullTests {
    /// A node whose disk is full to the last block: a new process can still open the store, list
    /// it, remove an image and collect its blobs and snapshots, which is how an operator frees
    /// space. (SQLite deletes its -wal and -shm files when the last connection closes and could
    /// not create them again: even `decant images` failed with "disk I/O error".)
    @Test func aStoreOnAFullDiskCanStillFreeSpace() async throws {
        let fixtures = try await ImageFixtures.get()
        let scratch = try Scratch("disk-full-gc")
        let volume = try SmallVolume(in: scratch, megabytes: 40)
        defer { volume.unmount() }
        let layout = StoreLayout(root: volume.mountPoint.appendingPathComponent("root").path)
        let reference = "oci:" + fixtures.path("shared-a") + ":latest"
        do {
            let store = try Store(layout: layout)
            _ = try await Puller(store: store).pull(reference)
        }
        // That store is closed, as when its process exits; the disk then fills up.
        DiskFiller.fill(volume.mountPoint.appendingPathComponent("filler"))
        let available = try await Shell.check(["df", "--output=avail", "-B1", volume.mountPoint.path]).stdout
        #expect(available.split(separator: "\n").last?.trimmingCharacters(in: .whitespaces) == "0")

        let store = try Store(layout: layout)
        #expect(try store.images.list().map(\.name) == [reference])
        try store.images.delete(reference)
        let report = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(report.snapshots.count == 3)
        #expect(try store.content.list().isEmpty)
        #expect(try store.overlay.walk(filters: []).isEmpty)
    }
}
