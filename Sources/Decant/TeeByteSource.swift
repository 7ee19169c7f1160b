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
        guard failure == nil else { return count }
        do {
            if count > 0 {
                try writer.write(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            } else {
                // The decoding thread ends after the last read; the store commits on another.
                try writer.settle()
            }
        } catch {
            // Keep extracting: the store error is reported once the layer is done.
            failure = error
        }
        return count
    }
}
