import DecantIO
import DecantStore

/// Reads a blob from its source and writes every byte into an ingest as it passes, so a layer is
/// stored and extracted from one read. Used by one decoding thread at a time, hence
/// `@unchecked Sendable`.
final class TeeByteSource: ByteSource, @unchecked Sendable {
    private let source: any ByteSource
    private let writer: IngestWriter
    private(set) var failure: StoreError?

    init(source: any ByteSource, writer: IngestWriter) {
        self.source = source
        self.writer = writer
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        let count = try source.read(into: buffer)
        if failure == nil {
            store(count) { () throws(StoreError) in try writer.write(UnsafeRawBufferPointer(rebasing: buffer[..<count])) }
        }
        return count
    }

    /// The next bytes, read straight into the buffer the ingest writes to the disk from: stored
    /// and lent to the decoder without being copied on the way. `nil` where the ingest has no
    /// such buffer, or has failed (the decoder then reads on, and nothing more is stored).
    func lend(upTo limit: Int) throws(SystemCallError) -> UnsafeRawBufferPointer? {
        guard failure == nil, let room = writer.reservation(upTo: limit) else { return nil }
        let count = try source.read(into: room)
        store(count) { () throws(StoreError) in try writer.writeReserved(count) }
        return UnsafeRawBufferPointer(rebasing: room[..<count])
    }

    /// Hands `count` bytes just read to the ingest (`write`), or, at the end of the blob, waits
    /// for its writes: the decoding thread ends after the last read, and the store commits on
    /// another. A store error is kept, not thrown: extraction goes on, and the error is reported
    /// once the layer is done.
    private func store(_ count: Int, _ write: () throws(StoreError) -> Void) {
        do {
            if count > 0 {
                try write()
            } else {
                try writer.settle()
            }
        } catch {
            failure = error
        }
    }
}
