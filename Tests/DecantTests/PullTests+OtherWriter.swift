import Decant
import DecantOCI
import DecantStore
import DecantTestSupport
import Foundation
import Synchronization
import Testing

extension PullTests {
    /// shared-a's top layer blob, half written into `store` by another process's writer (a store
    /// of its own on the same root), and a pull of shared-a started after it, waiting for it.
    private struct HeldBlob {
        var reference: String
        var layer: ImageFixtures.Image.Layer
        var digest: Digest
        var bytes: [UInt8]
        var writer: IngestWriter?
        var pulling: Task<PullResult, any Error>
        var ended: Ended
    }

    private final class Ended: Sendable {
        private let flag = Atomic<Bool>(false)
        func set() { flag.store(true, ordering: .releasing) }
        var isSet: Bool { flag.load(ordering: .acquiring) }
    }

    private func pullWhileAnotherWriterHoldsABlob(_ fixtures: ImageFixtures, store: Store) async throws -> HeldBlob {
        let layout = fixtures.path("shared-a")
        let layer = try #require(fixtures.image("shared-a").layers.last)
        let digest = try #require(Digest(layer.digest))
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(digest.encoded)")))
        let other = try Store(layout: StoreLayout(root: store.layout.root))
        let writer = try other.content.writer(ref: "layer-" + layer.digest, expected: digest, total: Int64(bytes.count))
        try writer.write(Array(bytes[..<(bytes.count / 2)]))

        let reference = "oci:\(layout):latest"
        let events = EventLog()
        let ended = Ended()
        let pulling = Task {
            defer { ended.set() }
            return try await Puller(store: store).pull(reference, options: PullOptions(events: events, linkLocalBlobs: false))
        }
        let waits = try await eventually { events.all.contains { $0.type == "layer-blob-wait" && $0.layer == layer.digest } }
        #expect(waits, "the pull waits for the other writer")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try store.images.list().isEmpty, "no image is recorded before its blobs are stored")
        return HeldBlob(reference: reference, layer: layer, digest: digest, bytes: bytes, writer: writer, pulling: pulling, ended: ended)
    }

    /// A layer blob that another process is writing into the store when the pull reads the layer
    /// (two node agents pulling images with one base at once): the pull extracts the layer from
    /// its source without storing it, then waits for that writer before it records the image.
    /// When that writer commits, its blob serves; when it gives up, the pull stores the blob
    /// itself, after the part that writer left. Either way the image's blobs are all there.
    @Test(arguments: [true, false]) func aBlobAnotherWriterHoldsIsThereWhenThePullEnds(otherWriterCommits: Bool) async throws {
        let fixtures = try ImageFixtures.get()
        let (scratch, store) = try freshStore("other-writer")
        defer { withExtendedLifetime(scratch) {} }
        var held = try await pullWhileAnotherWriterHoldsABlob(fixtures, store: store)
        if otherWriterCommits {
            try held.writer?.write(Array(held.bytes[(held.bytes.count / 2)...]))
            try held.writer?.commit()
        }
        // Gone: committed, or given up with its part left in the ingest.
        held.writer = nil

        let result = try await held.pulling.value
        let image = fixtures.image("shared-a")
        #expect(result.layers.map(\.chainID.description) == image.chainIDs)
        #expect(result.layers.map(\.blobStored) == image.layers.map { _ in true })
        #expect(try store.images.list().map(\.name) == [held.reference])
        let stored = try store.content.info(held.digest)
        #expect(stored.labels["containerd.io/uncompressed"] == held.layer.diffID)
        let path = try store.content.path(of: held.digest)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(held.bytes))
        #expect(try store.content.ingests().isEmpty)
        #expect(try store.leases.list().isEmpty)
    }

    /// Cancelled while it waits for another writer's blob, a pull ends at once and leaves the
    /// store as it found it, that writer's ingest included, which can still be committed.
    @Test func aPullCancelledWhileAnotherWriterHoldsABlobEndsAtOnce() async throws {
        let fixtures = try ImageFixtures.get()
        let (scratch, store) = try freshStore("other-writer-cancel")
        defer { withExtendedLifetime(scratch) {} }
        var held = try await pullWhileAnotherWriterHoldsABlob(fixtures, store: store)
        held.pulling.cancel()
        let ended = try await eventually(within: .seconds(5)) { held.ended.isSet }
        #expect(ended, "the pull ends without the other writer")
        // A pull that does not stop is let go, so that the test ends.
        if !ended { held.writer = nil }
        let error = await #expect(throws: PullError.self) { _ = try await held.pulling.value }
        #expect(error?.code == "cancelled")
        #expect(error?.layer == held.layer.digest)
        #expect(try store.images.list().isEmpty)
        #expect(try store.overlay.walk(filters: []).isEmpty)
        #expect(try store.content.list().isEmpty)
        #expect(try store.leases.list().isEmpty)
        #expect(try store.content.ingests().map(\.offset) == [Int64(held.bytes.count / 2)])

        try held.writer?.write(Array(held.bytes[(held.bytes.count / 2)...]))
        try held.writer?.commit()
        #expect(store.content.contains(held.digest))
    }
}
