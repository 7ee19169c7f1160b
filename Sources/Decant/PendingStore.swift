import DecantArchive
import DecantIO
import DecantOCI
import DecantStore
import SystemPackage

/// A layer blob verified on its way through the decoder, waiting to be made durable and visible
/// in the content store. Used by one task at a time.
final class PendingStore: @unchecked Sendable {
    enum Method {
        /// Written to this ingest as it streamed past: fsync and rename it.
        case ingest(IngestWriter)
        /// A whole local file (the source keeps it open) that was read: link it into the store,
        /// or copy it if that turns out impossible.
        case link(any ByteSource, ContentStore)
        /// Another writer (a pull in another process) held the blob's ingest while the layer
        /// streamed past: the blob is there once that writer commits it. Should it give up, the
        /// blob is read again from `reopen`, from where that writer stopped.
        case otherWriter(ref: String, ContentStore, reopen: @Sendable (Int64) async throws -> any ByteSource)
    }

    let method: Method
    let digest: Digest
    let size: Int64
    let labels: [String: String]

    init(_ method: Method, digest: Digest, size: Int64, labels: [String: String]) {
        self.method = method
        self.digest = digest
        self.size = size
        self.labels = labels
    }

    /// The ingest this pull took over from another writer that gave up, handed from the thread
    /// that waited for it to the one that fills it (an `IngestWriter` is not `Sendable`).
    var takenOver: IngestWriter?

    /// Makes the blob durable and visible, off the cooperative threads; `true` when this pull
    /// wrote it, `false` when another writer did (see ``storeAfterOtherWriter(ref:in:reopen:cancellation:events:)``).
    func commit(cancellation: CancellationFlag, events: OtherWriterEvents = OtherWriterEvents()) async throws -> Bool {
        if case .otherWriter(let ref, let store, let reopen) = method {
            return try await storeAfterOtherWriter(ref: ref, in: store, reopen: reopen, cancellation: cancellation, events: events)
        }
        try await BlockingWork.run("decant-store") { [self] in try commitHere() }
        return true
    }

    private func commitHere() throws {
        switch method {
        case .ingest(let writer):
            try writer.commit(verified: digest, size: size, labels: labels)
        case .link(let source, let store):
            guard let file = source.wholeFile else { preconditionFailure("a linkable source is a whole file") }
            if try store.link(file, verified: digest, size: size, labels: labels) { return }
            try copy(file, into: store)
        case .otherWriter:
            preconditionFailure("another writer's blob is waited for")
        }
    }

    /// The fallback when the file could not be linked after all (its mode or owner changed since
    /// it was opened): a copy, hashed again on the way in.
    private func copy(_ file: FileDescriptor, into store: ContentStore) throws {
        let writer = try store.writer(ref: "layer-" + digest.description, expected: digest, total: size)
        try fill(writer) { buffer in try file.read(fromAbsoluteOffset: writer.offset, into: buffer) }
    }

    /// Writes what `read` gives until the blob is whole or `read` ends, then commits: hashed again
    /// on the way in, so bytes that are not the blob are refused.
    func fill(_ writer: IngestWriter, read: (UnsafeMutableRawBufferPointer) throws -> Int) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while writer.offset < size {
            let count = try read(buffer)
            if count == 0 { break }
            try writer.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
        try writer.commit(size: size, digest: digest, labels: labels)
    }
}
