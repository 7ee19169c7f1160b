import Decant
import DecantOCI
import DecantStore
import DecantTestSupport
import Foundation
import Testing

extension PullTests {
    /// Leaves in `store` what a pull killed while storing `digest` leaves: an ingest holding
    /// `bytes` that nobody holds.
    private func leaveIngest(_ bytes: [UInt8], of digest: Digest, size: Int, in store: Store) throws {
        let writer = try store.content.writer(ref: "layer-" + digest.description, expected: digest, total: Int64(size))
        try writer.write(bytes)
    }

    /// An ingest an earlier pull left whose bytes are not the blob's start (torn by a crash, say):
    /// the pull resumes after them, finds the blob wrong, and extracts the layer once more, all
    /// from the source, instead of failing. The store ends as after a clean pull.
    @Test func aTornIngestIsReadAgainFromTheStart() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("torn-ingest")
        defer { withExtendedLifetime(scratch) {} }
        let (layer, bytes) = try fixtures.biggestLayer("multi")
        let digest = try #require(Digest(layer.digest))
        let torn = [UInt8](repeating: 0x5a, count: bytes.count / 2)
        try leaveIngest(torn, of: digest, size: bytes.count, in: store)

        let events = EventLog()
        let result = try await Puller(store: store).pull("oci:\(fixtures.path("multi")):latest",
                                                         options: PullOptions(events: events, linkLocalBlobs: false))
        let image = fixtures.image("multi")
        #expect(result.layers.map(\.chainID.description) == image.chainIDs)
        let mine = events.all.filter { $0.layer == layer.digest }
        #expect(mine.filter { $0.type == "layer-resume" }.map { $0.detail?["offset"] } == [String(torn.count)])
        #expect(mine.filter { $0.type == "layer-restart" }.map { $0.detail?["offset"] } == [String(torn.count)])
        #expect(try Data(contentsOf: URL(fileURLWithPath: store.content.path(of: digest))) == Data(bytes))
        #expect(try store.content.ingests().isEmpty)
        #expect(try store.leases.list().isEmpty)
        let snapshots = try store.overlay.walk(filters: [])
        #expect(Set(snapshots.map(\.name)) == Set(image.chainIDs))
        #expect(snapshots.allSatisfy { $0.kind == .committed })
        // The layer extracted twice holds its files once, as containerd's.
        let index = try #require(image.layers.firstIndex { $0.digest == layer.digest })
        try expectSameTree(result.layers[index].directory, fixtures.reference("multi", "layer-\(index)"),
                           ignoring: fixtures.unstableMTimes("multi", "layer-\(index)"), scratch: scratch, "restarted layer \(index)")
    }

    /// When the blob is still wrong read from the start, the source is at fault: the pull
    /// fails with the digest mismatch after one restart, and leaves no image, snapshot, blob,
    /// lease or ingest (the ingest too goes, as its bytes could not be told apart from the rest).
    @Test func aBlobWrongFromTheStartFailsAfterOneRestart() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("torn-source")
        defer { withExtendedLifetime(scratch) {} }
        let (layer, bytes) = try fixtures.biggestLayer("multi")
        let digest = try #require(Digest(layer.digest))
        // A layout whose blob has the right first half and a wrong second one, and an ingest
        // holding that right first half.
        let layout = scratch.url.appendingPathComponent("multi").path
        try FileManager.default.copyItem(atPath: fixtures.path("multi"), toPath: layout)
        var wrong = bytes
        for offset in (bytes.count / 2)..<bytes.count { wrong[offset] ^= 0xff }
        try Data(wrong).write(to: URL(fileURLWithPath: "\(layout)/blobs/sha256/\(digest.encoded)"))
        try leaveIngest(Array(bytes[..<(bytes.count / 2)]), of: digest, size: bytes.count, in: store)

        let events = EventLog()
        let error = await #expect(throws: PullError.self) {
            _ = try await Puller(store: store).pull("oci:\(layout):latest", options: PullOptions(events: events, linkLocalBlobs: false))
        }
        #expect(error?.code == "digest-mismatch")
        #expect(error?.layer == layer.digest)
        #expect(events.all.filter { $0.type == "layer-restart" }.map(\.layer) == [layer.digest])
        #expect(try store.images.list().isEmpty)
        #expect(try store.overlay.walk(filters: []).isEmpty)
        #expect(try store.content.list().isEmpty)
        #expect(try store.content.ingests().isEmpty)
        #expect(try store.leases.list().isEmpty)
    }
}
