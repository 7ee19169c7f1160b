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

    func commit() throws {
        switch method {
        case .ingest(let writer):
            try writer.commit(verified: digest, size: size, labels: labels)
        case .link(let source, let store):
            guard let file = source.wholeFile else { preconditionFailure("a linkable source is a whole file") }
            if try store.link(file, verified: digest, size: size, labels: labels) { return }
            try copy(file, into: store)
        }
    }

    /// The fallback when the file could not be linked after all (its mode or owner changed since
    /// it was opened): a copy, hashed again on the way in.
    private func copy(_ file: FileDescriptor, into store: ContentStore) throws {
        let writer = try store.writer(ref: "layer-" + digest.description, expected: digest, total: size)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        var offset: Int64 = writer.offset
        while offset < size {
            let count = try file.read(fromAbsoluteOffset: offset, into: buffer)
            if count == 0 { break }
            try writer.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            offset += Int64(count)
        }
        try writer.commit(size: size, digest: digest, labels: labels)
    }
}
