import Decant
import DecantOCI
import DecantStore
import DecantTestSupport
import Foundation
import Testing

extension PullTests {
    /// A pull that fails after committing its layers leaves what an image recorded meanwhile by
    /// another pull uses (snapshots and blobs): that image stays whole. What only the failed pull
    /// had still goes.
    ///
    /// The moment the pull of `shared-a` has committed its top layer, a second pull records an
    /// image of shared-a's two lower layers (reusing the committed snapshots), and the first
    /// pull's config blob is deleted under it. The first pull then fails labelling its config,
    /// after the unpack, as a full disk or a locked database would make it fail.
    @Test func aFailedPullLeavesWhatAnotherPullsImageUses() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("failed-pull-shared")
        defer { withExtendedLifetime(scratch) {} }
        let failing = "oci:" + fixtures.path("shared-a") + ":latest"
        let baseLayout = try scratch.directory("base-layout").path
        let cut = try Self.writeLayout(keepingLayers: 2, of: fixtures.path("shared-a"), to: baseLayout)
        let base = "oci:" + baseLayout + ":latest"
        let chain = fixtures.image("shared-a").chainIDs
        try #require(chain.count == 3 && cut.kept.count == 2 && cut.dropped.count == 1)

        let other = OnEvent(type: "snapshot-commit", snapshot: chain[2]) {
            let result = try await Puller(store: store).pull(base)
            try store.content.delete(cut.config)
            return result
        }
        await #expect(throws: PullError.self) {
            _ = try await Puller(store: store).pull(failing, options: PullOptions(events: other))
        }
        let baseResult = try #require(other.result, "the second pull ran while the first was committing")
        #expect(baseResult.layers.map(\.status) == ["reused", "reused"])

        #expect(try store.images.list().map(\.name) == [base])
        #expect(Set(try store.overlay.walk(filters: []).map(\.name)) == Set(chain.prefix(2)),
                "the lower layers stay; the top one, only the failed pull's, goes")
        for layer in cut.kept { #expect(store.content.contains(layer), "layer blob \(layer): the recorded image references it") }
        for layer in cut.dropped { #expect(!store.content.contains(layer), "layer blob \(layer): only the failed pull had it") }
        for blob in [baseResult.manifest, baseResult.config] { #expect(store.content.contains(blob)) }
        #expect(try store.content.list().count == 4, "the failed pull's own manifest is gone too")
        #expect(try store.leases.list().isEmpty)
        // Nothing the recorded image needs is missing, and nothing is left that it does not need.
        let collected = try GarbageCollector(store: store).collect(dryRun: true)
        #expect(collected.content.isEmpty && collected.snapshots.isEmpty, "\(collected)")
        #expect(try store.overlay.walk(filters: []).allSatisfy { $0.kind == .committed })
    }

    /// What ``writeLayout(keepingLayers:of:to:)`` kept and left out of an image.
    struct LayoutCut {
        var kept: [Digest]
        var dropped: [Digest]
        /// The whole image's config (the cut one has a config of its own).
        var config: Digest
    }

    /// Writes an OCI layout of the image at `layout` cut to its first `count` layers (manifest,
    /// config and index rewritten, blobs shared), tagged `latest`.
    static func writeLayout(keepingLayers count: Int, of layout: String, to directory: String) throws -> LayoutCut {
        let fileManager = FileManager.default
        try? fileManager.removeItem(atPath: directory)
        try fileManager.copyItem(atPath: layout, toPath: directory)
        let documents = try LayoutDocuments(directory)
        func store(_ object: [String: Any]) throws -> [String: Any] {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            var hasher = DigestHasher()
            data.withUnsafeBytes { hasher.update($0) }
            let digest = hasher.finalize()
            try data.write(to: URL(fileURLWithPath: documents.blobPath(digest.description)))
            return ["digest": digest.description, "size": data.count]
        }
        var (index, manifest, config) = (documents.index, documents.manifest, documents.config)
        var entries = try #require(index["manifests"] as? [[String: Any]])
        var configDescriptor = try #require(manifest["config"] as? [String: Any])
        var rootfs = try #require(config["rootfs"] as? [String: Any])
        let diffIDs = try #require(rootfs["diff_ids"] as? [String])
        rootfs["diff_ids"] = Array(diffIDs.prefix(count))
        config["rootfs"] = rootfs
        config.removeValue(forKey: "history")
        configDescriptor.merge(try store(config)) { $1 }
        manifest["config"] = configDescriptor
        let allLayers = try #require(manifest["layers"] as? [[String: Any]])
        let layers = Array(allLayers.prefix(count))
        manifest["layers"] = layers
        entries[0].merge(try store(manifest)) { $1 }
        index["manifests"] = [entries[0]]
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: directory + "/index.json"))
        func digests(_ descriptors: ArraySlice<[String: Any]>) -> [Digest] {
            descriptors.compactMap { ($0["digest"] as? String).flatMap(Digest.init) }
        }
        return LayoutCut(kept: digests(allLayers.prefix(count)), dropped: digests(allLayers.dropFirst(count)),
                         config: try #require(Digest(documents.configDigest)))
    }
}

/// Runs a pull once, on the thread that emits the first event of `type` for `snapshot`, and
/// holds that thread (and so the emitting pull) until it has ended.
final class OnEvent: EventSink, @unchecked Sendable {
    private let type: String
    private let snapshot: String
    private let action: @Sendable () async throws -> PullResult
    private let lock = NSLock()
    private var started = false
    private var outcome: PullResult?

    init(type: String, snapshot: String, _ action: @escaping @Sendable () async throws -> PullResult) {
        self.type = type
        self.snapshot = snapshot
        self.action = action
    }

    /// What the pull returned; `nil` if it did not run or failed.
    var result: PullResult? { lock.withLock { outcome } }

    func emit(_ event: Event) {
        guard event.type == type, event.snapshot == snapshot else { return }
        let first = lock.withLock {
            defer { started = true }
            return !started
        }
        guard first else { return }
        let done = DispatchSemaphore(value: 0)
        Task {
            let result = try? await action()
            lock.withLock { outcome = result }
            done.signal()
        }
        done.wait()
    }
}
