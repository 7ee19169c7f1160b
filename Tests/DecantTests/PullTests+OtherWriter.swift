import Decant
import DecantOCI
import DecantStore
import DecantTestSupport
import Foundation
import Synchronization
import Testing

extension PullTests {
    /// multi's biggest layer blob, half written into `store` by another process's writer (a store
    /// of its own on the same root), and a pull of multi started after it, waiting for it.
    private struct HeldBlob {
        var reference: String
        var layer: ImageFixtures.Image.Layer
        var digest: Digest
        var bytes: [UInt8]
        var writer: IngestWriter?
        var pulling: Task<PullResult, any Error>
        var ended: Ended
        var events: EventLog
    }

    private final class Ended: Sendable {
        private let flag = Atomic<Bool>(false)
        func set() { flag.store(true, ordering: .releasing) }
        var isSet: Bool { flag.load(ordering: .acquiring) }
    }

    private func pullWhileAnotherWriterHoldsABlob(_ fixtures: ImageFixtures, store: Store, writing part: (([UInt8]) -> [UInt8])? = nil) async throws -> HeldBlob {
        let layout = fixtures.path("multi")
        let (layer, bytes) = try fixtures.biggestLayer("multi")
        let digest = try #require(Digest(layer.digest))
        let other = try Store(layout: StoreLayout(root: store.layout.root))
        let writer = try other.content.writer(ref: "layer-" + layer.digest, expected: digest, total: Int64(bytes.count))
        try writer.write(part?(bytes) ?? Array(bytes[..<(bytes.count / 2)]))

        let reference = "oci:\(layout):latest"
        let events = EventLog()
        let ended = Ended()
        let pulling = Task {
            defer { ended.set() }
            return try await Puller(store: store).pull(reference, options: PullOptions(events: events, linkLocalBlobs: false))
        }
        let waits = try await eventually(within: .seconds(60)) { events.all.contains { $0.type == "layer-blob-wait" && $0.layer == layer.digest } }
        #expect(waits, "the pull waits for the other writer")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try store.images.list().isEmpty, "no image is recorded before its blobs are stored")
        return HeldBlob(reference: reference, layer: layer, digest: digest, bytes: bytes, writer: writer, pulling: pulling, ended: ended, events: events)
    }

    /// What the other writer does once the pull waits for it.
    enum OtherWriter: String, CaseIterable, Sendable {
        case commits
        case givesUp
        /// Gives up, and what it wrote is not the blob's start (torn by a crash, say).
        case givesUpWithWrongBytes
    }

    /// A layer blob that another process is writing into the store when the pull reads the layer
    /// (two node agents pulling images with one base at once): the pull extracts the layer from
    /// its source without storing it, then waits for that writer before it records the image.
    /// When that writer commits, its blob serves; when it gives up, the pull stores the blob
    /// itself, after the part that writer left (all of it again if that part is wrong). Either
    /// way the image's blobs are all there.
    @Test(arguments: OtherWriter.allCases) func aBlobAnotherWriterHoldsIsThereWhenThePullEnds(other: OtherWriter) async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("other-writer")
        defer { withExtendedLifetime(scratch) {} }
        let wrong: (([UInt8]) -> [UInt8])? = other == .givesUpWithWrongBytes ? { bytes in [UInt8](repeating: 0x5a, count: bytes.count / 2) } : nil
        var held = try await pullWhileAnotherWriterHoldsABlob(fixtures, store: store, writing: wrong)
        if other == .commits {
            try held.writer?.write(Array(held.bytes[(held.bytes.count / 2)...]))
            try held.writer?.commit()
        }
        // Gone: committed, or given up with its part left in the ingest.
        held.writer = nil

        let result = try await held.pulling.value
        let image = fixtures.image("multi")
        #expect(result.layers.map(\.chainID.description) == image.chainIDs)
        #expect(result.layers.map(\.blobStored) == image.layers.map { _ in true })
        #expect(try store.images.list().map(\.name) == [held.reference])
        let stored = try store.content.info(held.digest)
        #expect(stored.labels["containerd.io/uncompressed"] == held.layer.diffID)
        let path = try store.content.path(of: held.digest)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(held.bytes))
        #expect(try store.content.ingests().isEmpty)
        #expect(try store.leases.list().isEmpty)
        let resumed = held.events.all.filter { $0.type == "layer-resume" && $0.layer == held.layer.digest }
        #expect(resumed.map { $0.detail?["offset"] } == (other == .commits ? [] : [String(held.bytes.count / 2)]),
                "a writer that gave up is resumed after its bytes")
    }

    /// Cancelled while it waits for another writer's blob, a pull ends at once and leaves the
    /// store as it found it, that writer's ingest included, which can still be committed.
    @Test func aPullCancelledWhileAnotherWriterHoldsABlobEndsAtOnce() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("other-writer-cancel")
        defer { withExtendedLifetime(scratch) {} }
        var held = try await pullWhileAnotherWriterHoldsABlob(fixtures, store: store)
        held.pulling.cancel()
        // At once, or on a busy machine as soon as it gets to run: long before the minutes a
        // pull left waiting would take.
        let ended = try await eventually(within: .seconds(30)) { held.ended.isSet }
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
