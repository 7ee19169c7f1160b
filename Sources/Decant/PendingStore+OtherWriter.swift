import DecantArchive
import DecantIO
import DecantRemote
import DecantStore
import Foundation

/// What a pull waiting for another writer's blob tells its events.
struct OtherWriterEvents: Sendable {
    /// The blob is another writer's and not there yet: called once, as the wait starts.
    var waiting: @Sendable () -> Void = {}
    /// That writer gave up: this pull stores the blob itself, after the bytes it left.
    var resuming: @Sendable (_ offset: Int64) -> Void = { _ in }
}

extension PendingStore {
    /// How often the blob and its ingest's lock are looked at while another writer holds it: the
    /// cadence at which a pull looks for a manifest that another process stores.
    static let otherWriterPoll = 0.02

    /// The state in which another writer left a blob.
    private enum OtherWriterOutcome {
        /// Committed: the store has it.
        case stored
        /// Given up: ``takenOver`` now holds its ingest, with this many bytes in it.
        case free(offset: Int64)
    }

    /// Waits for the writer (a pull in another process, or one of this pull's own layers that
    /// has the same blob) that held the blob's ingest while the layer streamed past. Its blob
    /// serves once committed; should it give up, the blob is read again from `reopen`, after
    /// the bytes it left (from zero if those turn out not to be the blob's), and stored here.
    ///
    /// There is no deadline: a writer that neither commits nor gives up holds the pull, as a
    /// locked ingest holds containerd's fetch. Once `cancellation` is set (the pull failed or
    /// was cancelled) the wait, or the copy, ends with `CancellationError`.
    func storeAfterOtherWriter(ref: String, in store: ContentStore, reopen: @Sendable (Int64) async throws -> any ByteSource,
                               cancellation: CancellationFlag, events: OtherWriterEvents) async throws -> Bool {
        var fromZero = false
        while true {
            let outcome = try await BlockingWork.run("decant-store-wait") { [self, fromZero] in
                try awaitOtherWriter(ref, in: store, cancellation: cancellation, events: events, fromZero: fromZero)
            }
            guard case .free(let offset) = outcome else { return false }
            if offset > 0 { events.resuming(offset) }
            let origin: any ByteSource
            do {
                origin = try await reopen(offset)
            } catch {
                takenOver = nil
                throw error
            }
            do {
                try await BlockingWork.run("decant-store") { [self] in
                    guard let writer = takenOver else { preconditionFailure("the ingest was taken over") }
                    defer { takenOver = nil }
                    try fill(writer) { buffer in
                        if cancellation.isCancelled { throw CancellationError() }
                        return try origin.read(into: buffer)
                    }
                }
                return true
            } catch {
                // A broken transfer knows more than "cannot read".
                if let failure = (origin as? any BlobStream)?.failure { throw failure }
                // The commit discarded what it could not verify: once more, all from the source.
                if offset > 0, !fromZero, Self.isDigestMismatch(error) {
                    fromZero = true
                    continue
                }
                throw error
            }
        }
    }

    /// Polls until the blob is there or its ingest is free; runs on a thread of its own.
    private func awaitOtherWriter(_ ref: String, in store: ContentStore, cancellation: CancellationFlag,
                                  events: OtherWriterEvents, fromZero: Bool) throws -> OtherWriterOutcome {
        var announced = false
        while true {
            if store.contains(digest) {
                try store.update(digest, labels: labels, fieldPaths: labels.keys.map { "labels." + $0 })
                return .stored
            }
            if let writer = try freeWriter(ref, in: store) {
                // Committed between the look and the lock (look again), or left more than the
                // blob, or bytes already found wrong: start that ingest afresh.
                if store.contains(digest) || writer.offset > size || (fromZero && writer.offset > 0) {
                    writer.discard()
                    continue
                }
                takenOver = writer
                return .free(offset: writer.offset)
            }
            if cancellation.isCancelled { throw CancellationError() }
            if !announced { events.waiting() }
            announced = true
            Thread.sleep(forTimeInterval: Self.otherWriterPoll)
        }
    }

    /// A writer for `ref`, or `nil` while another writer holds it.
    private func freeWriter(_ ref: String, in store: ContentStore) throws -> IngestWriter? {
        do {
            return try store.writer(ref: ref, expected: digest, total: size)
        } catch where error.code == .unavailable {
            return nil
        }
    }

    private static func isDigestMismatch(_ error: any Error) -> Bool {
        (error as? StoreError)?.code == .digestMismatch
    }
}
