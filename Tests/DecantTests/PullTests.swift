import Decant
import DecantOCI
import DecantStore
import DecantTestSupport
import Foundation
import Testing

/// `decant pull` end to end against containerd 1.6's `ctr images import` of the same images.
@Suite(.serialized) struct PullTests {
    /// A store in a scratch directory; keep the `Scratch` alive as long as the store is used (its
    /// deinit removes the directory).
    func freshStore(_ label: String) throws -> (Scratch, Store) {
        let scratch = try Scratch(label)
        return (scratch, try Store(layout: StoreLayout(root: scratch.url.appendingPathComponent("root").path)))
    }

    /// For tests of the `decant` command: a scratch directory (keep it alive), a store root in it
    /// (not made yet), and the reference of fixture `image`'s OCI layout.
    func commandLineSetup(_ label: String, image: String) async throws -> (scratch: Scratch, root: String, reference: String) {
        let scratch = try Scratch(label)
        let reference = "oci:" + (try await ImageFixtures.get().path(image)) + ":latest"
        return (scratch, scratch.url.appendingPathComponent("root").path, reference)
    }

    func expectSameTree(_ directory: String, _ reference: URL, ignoring: [String], scratch: Scratch, _ label: String) throws {
        let dump = scratch.url.appendingPathComponent("dump-\(UUID().uuidString.prefix(6)).json")
        try Trees.dump(URL(fileURLWithPath: directory), to: dump)
        let differences = try Trees.differences(dump, reference, ignoringMTimeOf: ignoring)
        #expect(differences == nil, "\(label): \(differences ?? "")")
    }

    /// Every layer's upper dir and the merged mount, entry by entry, for every good image.
    @Test(arguments: ["multi", "shared-a", "shared-b", "platforms"])
    func overlaySnapshotsMatchContainerd(_ name: String) async throws {
        let fixtures = try await ImageFixtures.get()
        let image = fixtures.image(name)
        let (scratch, store) = try freshStore(name)
        let result = try await Puller(store: store).pull("oci-archive:" + fixtures.path(image.ociArchive),
                                                         options: PullOptions(platform: try Platform(parsing: "linux/amd64")))
        #expect(result.layers.map(\.chainID.description) == image.chainIDs)
        #expect(result.layers.allSatisfy { $0.status == "unpacked" })
        for layer in result.layers {
            try expectSameTree(layer.directory, fixtures.reference(name, "layer-\(layer.index)"),
                               ignoring: fixtures.unstableMTimes(name, "layer-\(layer.index)"), scratch: scratch, "\(name) layer \(layer.index)")
        }
        let top = try #require(result.layers.last?.chainID.description)
        let mounts = try store.overlay.view("merged", parent: top, labels: [:])
        let target = try scratch.directory("merged").path
        try await Shell.check(["mount"] + mounts[0].mountArguments(target: target).arguments)
        defer { _ = try? Shell.run(["umount", target]) }
        try expectSameTree(target, fixtures.reference(name, "merged"), ignoring: fixtures.unstableMTimes(name, "merged"),
                           scratch: scratch, "\(name) merged")
    }

    @Test func nativeSnapshotsMatchContainerd() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("native")
        let result = try await Puller(store: store).pull("oci:" + fixtures.path("multi") + ":latest",
                                                         options: PullOptions(snapshotter: "native"))
        let top = try #require(result.layers.last)
        try expectSameTree(top.directory, fixtures.reference("multi", "native-merged"),
                           ignoring: fixtures.unstableMTimes("multi", "native-merged"), scratch: scratch, "multi native")
    }

    /// `--unpack-concurrency 1` and many layers at once give identical trees.
    @Test func parallelAndSequentialUnpacksAgree() async throws {
        let fixtures = try await ImageFixtures.get()
        let reference = "oci:" + fixtures.path("multi") + ":latest"
        let (scratch, parallelStore) = try freshStore("parallel")
        let (sequentialScratch, sequentialStore) = try freshStore("sequential")
        defer { withExtendedLifetime(sequentialScratch) {} }
        let parallel = try await Puller(store: parallelStore).pull(reference, options: PullOptions(unpackConcurrency: 5))
        let sequential = try await Puller(store: sequentialStore).pull(reference, options: PullOptions(unpackConcurrency: 1))
        for (one, other) in zip(parallel.layers, sequential.layers) {
            #expect(one.chainID == other.chainID)
            let dump = scratch.url.appendingPathComponent("sequential-\(one.index).json")
            try Trees.dump(URL(fileURLWithPath: other.directory), to: dump)
            try expectSameTree(one.directory, dump, ignoring: fixtures.unstableMTimes("multi", "layer-\(one.index)"),
                               scratch: scratch, "layer \(one.index)")
        }
    }

    /// A `docker save` archive unpacks to the same snapshots as the OCI layout of the same image.
    @Test func dockerArchivesGiveTheSameSnapshots() async throws {
        let fixtures = try await ImageFixtures.get()
        let image = fixtures.image("shared-a")
        let (scratch, store) = try freshStore("docker")
        let result = try await Puller(store: store).pull("docker-archive:" + fixtures.path(try #require(image.dockerArchive)))
        #expect(result.layers.map(\.chainID.description) == image.chainIDs)
        for layer in result.layers {
            try expectSameTree(layer.directory, fixtures.reference("shared-a", "layer-\(layer.index)"),
                               ignoring: fixtures.unstableMTimes("shared-a", "layer-\(layer.index)"), scratch: scratch, "layer \(layer.index)")
        }
    }

    /// Shared base layers are unpacked once: by the first pull, or by whichever of two concurrent
    /// pulls gets there first.
    @Test func sharedLayersAreUnpackedOnce() async throws {
        let fixtures = try await ImageFixtures.get()
        let a = "oci:" + fixtures.path("shared-a") + ":latest"
        let b = "oci:" + fixtures.path("shared-b") + ":latest"
        let (sharedScratch, store) = try freshStore("shared")
        defer { withExtendedLifetime(sharedScratch) {} }
        let first = try await Puller(store: store).pull(a)
        let second = try await Puller(store: store).pull(b)
        #expect(first.layers.map(\.status) == ["unpacked", "unpacked", "unpacked"])
        #expect(second.layers.map(\.status) == ["reused", "reused", "unpacked", "unpacked"])
        #expect(try store.overlay.walk(filters: []).count == 5)

        let (concurrentScratch, concurrentStore) = try freshStore("shared-concurrent")
        defer { withExtendedLifetime(concurrentScratch) {} }
        let events = EventLog()
        async let left = Puller(store: concurrentStore).pull(a, options: PullOptions(events: events))
        async let right = Puller(store: concurrentStore).pull(b, options: PullOptions(events: events))
        let (one, other) = try await (left, right)
        let shared = Set(one.layers.prefix(2).map(\.chainID.description))
        let commits = events.all.filter { $0.type == "snapshot-commit" }.compactMap(\.snapshot)
        #expect(commits.filter(shared.contains).count == 2, "shared layers committed \(commits.filter(shared.contains).count) times")
        #expect(Set(commits).count == commits.count)
        #expect(Set(other.layers.prefix(2).map(\.chainID.description)) == shared)
        #expect(try concurrentStore.overlay.walk(filters: []).count == 5)
    }

    @Test func thePlatformIsPickedFromTheIndex() async throws {
        let fixtures = try await ImageFixtures.get()
        let reference = "oci:" + fixtures.path("platforms") + ":latest"
        for (platform, expected) in [("linux/arm64", "linux/arm64/v8"), ("linux/arm/v7", "linux/arm/v7"), ("linux/amd64", "linux/amd64")] {
            let (platformScratch, store) = try freshStore("platform")
            defer { withExtendedLifetime(platformScratch) {} }
            let result = try await Puller(store: store).pull(reference, options: PullOptions(platform: try Platform(parsing: platform)))
            #expect(result.platform == expected)
            let top = try #require(result.layers.last)
            let marker = try String(contentsOfFile: top.directory + "/platform", encoding: .utf8)
            #expect(marker.contains(expected.split(separator: "/")[1]), "\(platform): \(marker)")
        }
        let (platformScratch, store) = try freshStore("platform")
        defer { withExtendedLifetime(platformScratch) {} }
        await #expect(throws: PullError.self) {
            _ = try await Puller(store: store).pull(reference, options: PullOptions(platform: try Platform(parsing: "windows/amd64")))
        }
    }

    /// Each bad image fails with its cause and leaves a store that already holds an image exactly
    /// as it was: same images, same blobs, same snapshots.
    @Test func badImagesFailAndLeaveTheStoreAsItWas() async throws {
        let fixtures = try await ImageFixtures.get()
        let (badScratch, store) = try freshStore("bad")
        defer { withExtendedLifetime(badScratch) {} }
        _ = try await Puller(store: store).pull("oci:" + fixtures.path("shared-a") + ":latest")
        func state() throws -> [String] {
            try store.images.list().map(\.name) + store.content.list().map(\.digest.description)
                + store.overlay.walk(filters: []).map { "\($0.name) \($0.kind)" } + store.content.ingests().map(\.ref)
        }
        let before = try state()
        for image in fixtures.images where !image.isOK {
            guard case .error(let expected) = image.expect else { continue }
            for reference in ["oci:" + fixtures.path(image.layout) + ":latest", "oci-archive:" + fixtures.path(image.ociArchive)] {
                do {
                    _ = try await Puller(store: store).pull(reference)
                    Issue.record("\(image.name): pulled without an error")
                } catch {
                    #expect(error.description.contains(expected), "\(image.name): \(error.description)")
                    #expect(error.description.contains(reference), "\(image.name): the error does not name the image")
                }
                let after = try state()
                #expect(after == before, "\(image.name) changed the store: added \(Set(after).subtracting(before)), removed \(Set(before).subtracting(after))")
            }
        }
    }
}

extension PullTests {
    /// Cancelling a pull (what Ctrl-C does) stops it and removes everything it prepared.
    @Test func aCancelledPullLeavesNothingBehind() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("cancel")
        defer { withExtendedLifetime(scratch) {} }
        let task = Task { try await Puller(store: store).pull("oci:" + fixtures.path("multi") + ":latest") }
        task.cancel()
        await #expect(throws: PullError.self) { _ = try await task.value }
        #expect(try store.overlay.walk(filters: []).isEmpty)
        #expect(try store.images.list().isEmpty)
        #expect(try store.content.list().isEmpty)
        #expect(try store.content.ingests().isEmpty)
    }
}

/// Collects events from concurrent pulls.
final class EventLog: EventSink, @unchecked Sendable {
    private let lock = NSLock()
    private var events: [Event] = []

    func emit(_ event: Event) { lock.withLock { events.append(event) } }
    var all: [Event] { lock.withLock { events } }
}
