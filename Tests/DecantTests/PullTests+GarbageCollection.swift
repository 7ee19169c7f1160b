import Decant
import DecantOCI
import DecantStore
import DecantTestSupport
import Foundation
import Synchronization
import Testing

extension PullTests {
    /// `decant gc` running over and over while a pull goes on (a node's periodic cleanup during a
    /// prewarm): it takes nothing the pull has made or builds on — not the snapshot being
    /// extracted, not a layer committed before the image is recorded, not a blob — and the pull
    /// completes as if alone. A layer the store had before the pull (an earlier image's, since
    /// removed) stays too once the pull has started on it.
    @Test func aGarbageCollectionDuringThePullTakesNothingItNeeds() async throws {
        let fixtures = try await ImageFixtures.get()
        let base = "oci:" + fixtures.path("shared-a") + ":latest"
        let reference = "oci:" + fixtures.path("shared-b") + ":latest"
        for round in 0..<4 {
            let (scratch, store) = try freshStore("gc-during-pull")
            defer { withExtendedLifetime(scratch) {} }
            // shared-b builds on shared-a's two bottom layers: left committed but unreferenced.
            _ = try await Puller(store: store).pull(base)
            try store.images.delete(base)

            let pulling = Atomic<Bool>(true)
            let collections = Atomic<Int>(0)
            let collector = Thread {
                while pulling.load(ordering: .acquiring) {
                    do {
                        _ = try GarbageCollector(store: store).collect(dryRun: false)
                        collections.add(1, ordering: .relaxed)
                    } catch {
                        Issue.record("gc failed: \(error)")
                    }
                }
            }
            collector.start()
            let result: PullResult
            do {
                result = try await Puller(store: store).pull(reference)
            } catch {
                pulling.store(false, ordering: .releasing)
                throw error
            }
            pulling.store(false, ordering: .releasing)
            while !collector.isFinished { try await Task.sleep(for: .milliseconds(5)) }

            #expect(collections.load(ordering: .relaxed) > 1, "round \(round): the collector ran while the pull did")
            #expect(result.layers.map(\.chainID.description) == fixtures.image("shared-b").chainIDs)
            #expect(try store.images.list().map(\.name) == [reference])
            let snapshots = try store.overlay.walk(filters: [])
            #expect(Set(snapshots.map(\.name)) == Set(fixtures.image("shared-b").chainIDs), "round \(round)")
            #expect(snapshots.allSatisfy { $0.kind == .committed })
            // Everything left is the image's: nothing to collect, and its blobs are all there.
            let after = try GarbageCollector(store: store).collect(dryRun: true)
            #expect(after.content.isEmpty && after.snapshots.isEmpty, "round \(round): \(after)")
            #expect(try store.leases.list().isEmpty)
            let image = try #require(try store.images.list().first)
            let manifest = try #require(Digest(image.digest))
            #expect(store.content.contains(manifest))
            for layer in result.layers {
                #expect(store.content.contains(layer.digest), "round \(round): layer blob \(layer.digest)")
            }
        }
    }
}

extension PullTests {
    /// A failed pull removes the blobs it stored, but not one that another pull's lease holds (a
    /// pull in another process that found the blob here, stored by this one, and builds on it),
    /// nor what that blob references: the manifest keeps its config and layers, as in a
    /// collection.
    @Test func aFailedPullKeepsTheBlobsAnotherPullHolds() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("failed-pull-leases")
        defer { withExtendedLifetime(scratch) {} }
        let layout = fixtures.path("bad-diffid")
        struct Index: Decodable {
            struct Entry: Decodable { var digest: String }
            var manifests: [Entry]
        }
        let index = try JSONDecoder().decode(Index.self, from: Data(contentsOf: URL(fileURLWithPath: layout + "/index.json")))
        let entry = try #require(index.manifests.first)
        let manifest = try #require(Digest(entry.digest))
        let other = try store.leases.create(labels: ["decant.pull": "another pull of the same image"], expiration: 3600)
        try store.leases.addResource(LeaseResource(type: "content", id: manifest.description), to: other.id)

        await #expect(throws: PullError.self) { try await Puller(store: store).pull("oci:" + layout + ":latest") }
        let left = Set(try store.content.list().map(\.digest.description))
        #expect(left.contains(manifest.description), "the leased manifest stays")
        #expect(left.count > 1, "and what it references")
        let collected = try GarbageCollector(store: store).collect(dryRun: true)
        #expect(collected.content.isEmpty, "only what the lease keeps is left: \(collected.content)")
        #expect(try store.images.list().isEmpty)
        #expect(try store.overlay.walk(filters: []).isEmpty)
    }
}
