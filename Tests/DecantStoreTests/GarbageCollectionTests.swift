import DecantOCI
@testable import DecantStore
import DecantTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct GarbageCollectionTests {
    private func blob(_ store: Store, _ text: String, labels: [String: String] = [:]) throws -> Digest {
        let bytes = Array(text.utf8)
        let writer = try store.content.writer(ref: UUID().uuidString)
        try writer.write(bytes)
        return try writer.commit(labels: labels).digest
    }

    private func committed(_ store: Store, _ name: String, parent: String?) throws {
        _ = try store.overlay.prepare(name + "-work", parent: parent, labels: [:])
        try store.overlay.commit(name: name, key: name + "-work", parent: nil, labels: [:], usage: nil)
    }

    @Test func removesWhatNothingReferencesAndKeepsTheRest() throws {
        let fixture = try StoreFixture("gc")
        let store = fixture.store
        try committed(store, "l1", parent: nil)
        try committed(store, "l2", parent: "l1")
        try committed(store, "orphan", parent: nil)
        _ = try store.overlay.prepare("in-progress", parent: nil, labels: [:])

        let layer = try blob(store, "layer bytes")
        let config = try blob(store, "{\"rootfs\":{}}", labels: ["containerd.io/gc.ref.snapshot.overlayfs": "l2"])
        let manifest = try blob(store, """
            {"schemaVersion":2,"config":{"digest":"\(config)","size":1},"layers":[{"digest":"\(layer)","size":1}]}
            """)
        try store.images.createOrUpdate(ImageRecord(name: "example/app:1", mediaType: "application/vnd.oci.image.manifest.v1+json",
                                                    digest: manifest.description, size: 1))
        let unreferenced = try blob(store, "nobody wants me")
        let leased = try blob(store, "held by a lease")
        let rooted = try blob(store, "a root", labels: ["containerd.io/gc.root": "yes"])
        let lease = try store.leases.create(id: "pull")
        try store.leases.addResource(LeaseResource(type: "content", id: leased.description), to: lease.id)
        let expiring = try blob(store, "held by an expired lease")
        _ = try store.leases.create(id: "old", expiration: -1)
        try store.leases.addResource(LeaseResource(type: "content", id: expiring.description), to: "old")

        let dryRun = try GarbageCollector(store: store).collect(dryRun: true)
        #expect(Set(dryRun.content.map(\.digest)) == [unreferenced.description, expiring.description])
        #expect(dryRun.snapshots.map(\.key) == ["orphan"])
        #expect(dryRun.expiredLeases == ["old"])
        #expect(store.content.contains(unreferenced), "a dry run removed something")
        #expect(try store.leases.list().count == 2)

        let report = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(report.content.count == 2 && report.snapshots.count == 1)
        #expect(report.bytesFreed >= Int64("nobody wants me".utf8.count))
        for kept in [layer, config, manifest, leased, rooted] { #expect(store.content.contains(kept)) }
        #expect(!store.content.contains(unreferenced))
        #expect(try store.overlay.walk(filters: []).map(\.name).sorted() == ["in-progress", "l1", "l2"])

        // Without the image, its manifest, config, layer and snapshot chain go, children first.
        try store.images.delete("example/app:1")
        let second = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(Set(second.content.map(\.digest)) == [layer.description, config.description, manifest.description])
        #expect(second.snapshots.map(\.key) == ["l2", "l1"])
        #expect(try store.overlay.walk(filters: []).map(\.name) == ["in-progress"])
    }

    /// A failed pull's discard removes what it made unless something else keeps it: another
    /// lease (even an expired one), an image, a snapshot built on it. What it did not make stays
    /// whatever holds it.
    @Test func aFailedPullDiscardsOnlyWhatNothingElseKeeps() throws {
        let fixture = try StoreFixture("gc-discard")
        let store = fixture.store
        for (name, parent) in [("base", nil), ("mid", "base"), ("top", "mid"), ("imaged", nil), ("leased", nil),
                               ("under", nil), ("foreign", "under"), ("untouched", nil)] as [(String, String?)] {
            try committed(store, name, parent: parent)
        }
        let own = try store.leases.create(id: "failed-pull")
        let other = try store.leases.create(id: "other-pull", expiration: -1)
        try store.leases.addResource(LeaseResource(type: "snapshots/overlayfs", id: "leased"), to: other.id)
        let leasedBlob = try blob(store, "another pull found this one")
        try store.leases.addResource(LeaseResource(type: "content", id: leasedBlob.description), to: other.id)
        let config = try blob(store, "{\"rootfs\":{}}", labels: ["containerd.io/gc.ref.snapshot.overlayfs": "imaged"])
        let manifest = try blob(store, """
            {"schemaVersion":2,"config":{"digest":"\(config)","size":1},"layers":[]}
            """)
        try store.images.createOrUpdate(ImageRecord(name: "example/other:1", mediaType: "application/vnd.oci.image.manifest.v1+json",
                                                    digest: manifest.description, size: 1))
        let ownBlob = try blob(store, "only the failed pull had this")
        for resource in [LeaseResource(type: "content", id: ownBlob.description), LeaseResource(type: "snapshots/overlayfs", id: "top")] {
            try store.leases.addResource(resource, to: own.id)
        }

        let report = try GarbageCollector(store: store).discard(
            content: [ownBlob, leasedBlob, config, manifest], snapshots: ["base", "mid", "top", "imaged", "leased", "under"],
            in: store.overlay, ownLease: own.id)
        #expect(report.snapshots.map(\.key) == ["top", "mid", "base"], "children first")
        #expect(report.content.map(\.digest) == [ownBlob.description])
        #expect(try store.overlay.walk(filters: []).map(\.name).sorted() == ["foreign", "imaged", "leased", "under", "untouched"])
        for kept in [leasedBlob, config, manifest] { #expect(store.content.contains(kept)) }
        #expect(!store.content.contains(ownBlob))
        #expect(try store.leases.list().count == 2, "a discard deletes no lease, not even an expired one")
    }

    /// A crashed pull's extraction snapshot goes once its lease is gone; a running pull's stays.
    @Test func abandonedExtractionSnapshotsAreCollected() throws {
        let fixture = try StoreFixture("gc-extract")
        let store = fixture.store
        _ = try store.overlay.prepare("extract-abc sha256:1", parent: nil, labels: [snapshotReferenceLabel: "sha256:1"])
        _ = try store.overlay.prepare("extract-def sha256:2", parent: nil, labels: [snapshotReferenceLabel: "sha256:2"])
        _ = try store.overlay.prepare("user-work", parent: nil, labels: [:])
        let lease = try store.leases.create(id: "running-pull")
        try store.leases.addResource(LeaseResource(type: "snapshots/overlayfs", id: "extract-def sha256:2"), to: lease.id)

        let report = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(report.snapshots.map(\.key) == ["extract-abc sha256:1"])
        #expect(try store.overlay.walk(filters: []).map(\.name).sorted() == ["extract-def sha256:2", "user-work"])
    }

    /// A removal that could not finish (here a file in the tree is immutable, as a disk error or
    /// a kill in the middle would leave it) leaves the tree moved aside as `removing-<id>`, with
    /// no snapshot pointing to it: the next collection removes it. The tree of a snapshot that
    /// still exists is kept.
    @Test func aSnapshotTreeAnInterruptedRemovalLeftIsCollected() async throws {
        let fixture = try StoreFixture("gc-removing")
        let store = fixture.store
        _ = try store.overlay.prepare("kept", parent: nil, labels: [:])
        _ = try store.overlay.prepare("doomed", parent: nil, labels: [:])
        let stuck = try store.overlay.directory("doomed") + "/stuck"
        try Data("x".utf8).write(to: URL(fileURLWithPath: stuck))
        try await Shell.check(["chattr", "+i", stuck])
        try store.overlay.remove("doomed")
        let home = store.layout.root + "/snapshots/overlay"
        let leftover = try FileManager.default.contentsOfDirectory(atPath: home).filter { $0.hasPrefix("removing-") }
        try await Shell.check(["chattr", "-i", home + "/" + (try #require(leftover.first)) + "/fs/stuck"])
        #expect(leftover.count == 1)

        let report = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(report.snapshotDirectories == leftover.map { home + "/" + $0 })
        let kept = try store.overlay.directory("kept")
        #expect(try FileManager.default.contentsOfDirectory(atPath: home).sorted() == [URL(fileURLWithPath: kept).deletingLastPathComponent().lastPathComponent])
        #expect(try store.overlay.walk(filters: []).map(\.name) == ["kept"])
    }

    /// A held lease lasts while its holder does, expiry or not: a collection keeps what it holds,
    /// and deletes it (its lock file too) as soon as the holder has gone without releasing it.
    /// A lease made without a holder stays until it expires, as before; a lock file left with no
    /// lease goes, unless someone holds it.
    @Test func aHeldLeaseGoesWhenItsHolderHasEnded() throws {
        let fixture = try StoreFixture("gc-held")
        let store = fixture.store
        let kept = try blob(store, "held while its holder runs")
        let dropped = try blob(store, "held by a holder that ended")
        var running: HeldLease? = try store.leases.createHeld(labels: ["decant.pull": "a"], expiration: 3600)
        var ended: HeldLease? = try store.leases.createHeld(labels: ["decant.pull": "b"], expiration: 3600)
        let runningID = try #require(running?.id)
        let endedID = try #require(ended?.id)
        try store.leases.addResource(LeaseResource(type: "content", id: kept.description), to: runningID)
        try store.leases.addResource(LeaseResource(type: "content", id: dropped.description), to: endedID)
        _ = try store.leases.create(id: "unheld")
        let directory = store.layout.leaseHolders
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == [runningID, endedID].sorted())

        let whileRunning = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(whileRunning.abandonedLeases.isEmpty && whileRunning.content.isEmpty, "\(whileRunning)")

        // As the process's exit would: the lock file is closed, the lease is still there.
        ended = nil
        let stray = directory + "/decant-stray"
        FileManager.default.createFile(atPath: stray, contents: nil)
        let busy = directory + "/decant-being-made"
        FileManager.default.createFile(atPath: busy, contents: nil)
        let busyLock = try #require(FileHandle(forUpdatingAtPath: busy))
        #expect(flock(busyLock.fileDescriptor, LOCK_EX) == 0)

        let holders = Dictionary(uniqueKeysWithValues: try store.leases.list(holders: true).map { ($0.id, $0.holder) })
        #expect(holders == [runningID: .running, endedID: .ended, "unheld": LeaseHolder.none], "\(holders)")
        #expect(try store.leases.list().allSatisfy { $0.holder == nil })
        let dry = try GarbageCollector(store: store).collect(dryRun: true)
        #expect(dry.abandonedLeases == [endedID] && dry.content.map(\.digest) == [dropped.description], "\(dry)")
        #expect(try store.leases.list().count == 3 && FileManager.default.fileExists(atPath: stray))

        let report = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(report.abandonedLeases == [endedID], "\(report)")
        #expect(report.content.map(\.digest) == [dropped.description])
        #expect(store.content.contains(kept))
        #expect(try store.leases.list().map(\.id).sorted() == [runningID, "unheld"].sorted())
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["decant-being-made", runningID].sorted())

        try running?.release()
        running = nil
        #expect(try store.leases.list().map(\.id) == ["unheld"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["decant-being-made"])
        try busyLock.close()
    }

    /// Lease ids are containerd's identifiers. One from before that check that spells a path
    /// names no lock file: a collection neither follows it out of `leases/` nor removes what it
    /// names, and keeps the lease.
    @Test func aLeaseIDIsNeverAPath() throws {
        let fixture = try StoreFixture("gc-lease-ids")
        let store = fixture.store
        for id in ["../metadata.db", "a/b", "..", "", "-x", "x-", "a..b", "a b", String(repeating: "a", count: 77)] {
            #expect(throws: StoreError.self, "\(id)") { _ = try store.leases.create(id: id) }
        }
        #expect(try store.leases.create(id: "a.b_c-9").id == "a.b_c-9")
        #expect(try store.leases.create(id: String(repeating: "a", count: 76)).id.count == 76)

        _ = try store.leases.insert(id: "../metadata.db", labels: [:], expiration: nil)
        let report = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(report.abandonedLeases.isEmpty, "\(report)")
        #expect(FileManager.default.fileExists(atPath: store.layout.database))
        #expect(try store.leases.list(holders: true).first { $0.id == "../metadata.db" }?.holder == LeaseHolder.none)
    }

    /// A crash right after an ingest's directory was made leaves it empty: no ref, no data, no
    /// lock. A dry run reports it and leaves it as it was (making its lock file would make the
    /// directory look new, and keep it another expiry); a collection removes it.
    @Test func aDryRunLeavesAnEmptyIngestAsItFoundIt() throws {
        let fixture = try StoreFixture("gc-empty-ingest")
        let store = fixture.store
        let name = Digest.sha256(of: Array("crashed".utf8)).encoded
        let directory = store.layout.ingests + "/" + name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        let old = Date().addingTimeInterval(-2 * GarbageCollector.defaultIngestExpiry)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: directory)
        let dry = try GarbageCollector(store: store).collect(dryRun: true)
        #expect(dry.ingests == ["(no ref) " + name])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        let changed = try #require(try FileManager.default.attributesOfItem(atPath: directory)[.modificationDate] as? Date)
        #expect(abs(changed.timeIntervalSince(old)) < 0.01, "the dry run changed the directory at \(changed)")
        let report = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(report.ingests == ["(no ref) " + name])
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    /// Partial blobs stay for resuming while recent or being written, and go once stale; so do
    /// an ingest directory whose removal a crash interrupted (moved aside, not yet deleted) and
    /// a stale one whose `ref` file a crash lost, which cannot be listed by its ref.
    @Test func staleIngestsAreCollected() throws {
        let fixture = try StoreFixture("gc-ingests")
        let store = fixture.store
        func directory(_ ref: String) -> String { store.layout.ingests + "/" + Digest.sha256(of: Array(ref.utf8)).encoded }
        for ref in ["stale", "recent", "busy", "interrupted", "lost-ref", "torn-ref"] {
            let writer = try store.content.writer(ref: ref)
            try writer.write(Array("partial \(ref)".utf8))
        }
        let aside = store.layout.ingests + "/removing-crashed"
        try FileManager.default.moveItem(atPath: directory("interrupted"), toPath: aside)
        try FileManager.default.removeItem(atPath: directory("lost-ref") + "/ref")
        try Data().write(to: URL(fileURLWithPath: directory("torn-ref") + "/ref"))
        let busy = try store.content.writer(ref: "busy")
        let old = Date().addingTimeInterval(-2 * GarbageCollector.defaultIngestExpiry)
        for ref in ["stale", "busy", "lost-ref"] {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: directory(ref) + "/data")
        }
        let lost = "(no ref) " + URL(fileURLWithPath: directory("lost-ref")).lastPathComponent
        let dry = try GarbageCollector(store: store).collect(dryRun: true)
        #expect(dry.ingests == ["stale", lost])
        #expect(try store.content.ingests().count == 3, "one being removed or without its ref is not listed")
        #expect(FileManager.default.fileExists(atPath: aside), "a dry run removes nothing")
        #expect(FileManager.default.fileExists(atPath: directory("lost-ref")), "a dry run removes nothing")
        let report = try GarbageCollector(store: store).collect(dryRun: false)
        #expect(report.ingests == ["stale", lost])
        #expect(try store.content.ingests().map(\.ref).sorted() == ["busy", "recent"])
        #expect(!FileManager.default.fileExists(atPath: aside))
        #expect(!FileManager.default.fileExists(atPath: directory("lost-ref")))
        #expect(FileManager.default.fileExists(atPath: directory("torn-ref")), "a recent one may still be resumed")
        withExtendedLifetime(busy) {}
    }
}
