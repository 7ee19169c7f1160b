import Decant
import DecantStore
import DecantTestSupport
import Foundation
import Synchronization
import Testing

extension PullTests {
    /// A layer's files never reach the disk (a writeback error), and another flush of the file
    /// system, here `sync -f` as another pull's would be, reports the error first. The layer's
    /// own flush must report it too: otherwise a snapshot whose data is not on the disk is
    /// committed, and every later pull reuses it. The pull fails naming the layer and commits
    /// nothing.
    @Test func aWritebackErrorAnotherFlushReportedFirstStillFailsTheCommit() async throws {
        let scratch = try Scratch("writeback-seen")
        // One layer: nothing else is written between the other flush and the layer's own.
        let layout = scratch.url.appendingPathComponent("one").path
        try await Shell.check(["python3", RegistryServer.scripts.appendingPathComponent("make-big-image.py").path, layout, "1"])
        let volume = try WritebackFailingVolume(in: scratch)
        defer { volume.unmount() }
        let store = try Store(layout: StoreLayout(root: volume.mountPoint.appendingPathComponent("root").path))
        let saboteur = WritebackSaboteur(volume: volume)
        // No blob is written: a failed fsync of an ingest would report the error first.
        let options = PullOptions(events: saboteur, discardUnpackedLayers: true)
        let error = try await #require(throws: PullError.self) {
            try await Puller(store: store).pull("oci:\(layout):latest", options: options)
        }
        #expect(saboteur.otherFlushFailed == true, "sync -f did not see the writeback error")
        #expect(error.message.contains("cannot flush"), "\(error)")
        #expect(error.layer != nil, "\(error)")
        #expect(try store.overlay.walk(filters: []).allSatisfy { $0.kind != .committed })
    }
}

/// Makes writeback fail once the first snapshot is prepared, and flushes the file system from
/// another process once the first layer is extracted.
final class WritebackSaboteur: EventSink, Sendable {
    private let volume: WritebackFailingVolume
    private let state = Mutex<(armed: Bool, otherFlushFailed: Bool?)>((false, nil))

    init(volume: WritebackFailingVolume) {
        self.volume = volume
    }

    /// Whether the other flush failed; `nil` until it ran.
    var otherFlushFailed: Bool? { state.withLock { $0.otherFlushFailed } }

    func emit(_ event: Event) {
        switch event.type {
        case "snapshot-prepare" where !state.withLock({ $0.armed }):
            state.withLock { $0.armed = true }
            try? volume.failWriteback()
        case "layer-extracted" where otherFlushFailed == nil:
            let flushed = try? Shell.run(["sync", "-f", volume.mountPoint.path])
            state.withLock { $0.otherFlushFailed = flushed.map { $0.status != 0 } ?? false }
        default:
            break
        }
    }
}
