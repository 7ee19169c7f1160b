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
        let fixtures = try ImageFixtures.get()
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
            let manifest = try #require(try store.images.list().first)
            #expect(store.content.contains(try #require(Digest(manifest.digest))))
            for layer in result.layers {
                #expect(store.content.contains(layer.digest), "round \(round): layer blob \(layer.digest)")
            }
        }
    }
}
