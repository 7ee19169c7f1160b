import DecantIO
import DecantOCI

/// The digests and sizes of both of a layer's streams, known once it was read to its end.
public struct StreamDigests: Sendable, Equatable, Codable {
    /// The blob's digest: what a manifest names the layer by.
    public var compressedDigest: Digest
    public var compressedSize: Int64
    /// The digest of the uncompressed tar, every byte including any after the end-of-archive
    /// marker: what the image config lists as the layer's `diff_id`.
    public var diffID: Digest
    public var uncompressedSize: Int64
    /// What the bytes turned out to be compressed with.
    public var compression: Compression
}

/// What the decoding thread learnt of a blob it read to its end.
struct DecodedBlob {
    var digest: Digest
    var size: Int64
    var compression: Compression
}

/// Reads a blob, hashes it and decompresses it, on its own thread, filling the buffers of a
/// ``ChunkQueue`` for the applying and hashing threads.
final class LayerDecoder: @unchecked Sendable {
    private let source: any ByteSource
    private let declared: MediaType?
    private let gzip: GzipImplementation
    private let layer: String
    private let queue: ChunkQueue
    private let readSize: Int
    /// Written by the decoding thread before it closes the queue, read by the consumer after it
    /// saw the queue closed: the queue's lock orders the two.
    private(set) var blob: DecodedBlob?
    /// The decoding thread's share of ``LayerStageTimes``, published like ``blob``.
    private(set) var times = LayerStageTimes()
    /// The blob's hash so far; kept past a failure so that ``drainBlobDigest()`` can finish it.
    private var compressedHash = DigestHasher()
    private var compressedSize: Int64 = 0

    init(source: any ByteSource, declared: MediaType?, gzip: GzipImplementation, layer: String,
         queue: ChunkQueue, readSize: Int) {
        self.source = source
        self.declared = declared
        self.gzip = gzip
        self.layer = layer
        self.queue = queue
        self.readSize = readSize
    }

    /// Runs the whole stream; always ends by closing the queue.
    func run() {
        do {
            try decode()
            queue.close(.finished)
        } catch {
            queue.close(.failed(error))
        }
    }

    private func decode() throws(LayerError) {
        let input = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 4096)
        defer { input.deallocate() }
        var filled = 0
        var endOfInput = false

        /// The next bytes of the blob, hashed: read into `input` after the `filled` bytes there,
        /// or, `lending`, wherever the source holds them (valid until the next call). Empty at
        /// the end.
        func next(lending: Bool) throws(LayerError) -> UnsafeRawBufferPointer {
            do {
                let start = monotonicSeconds()
                let bytes: UnsafeRawBufferPointer
                if lending, let lent = try source.lend(upTo: readSize) {
                    bytes = lent
                } else {
                    let count = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: input[filled...]))
                    bytes = UnsafeRawBufferPointer(rebasing: input[filled..<(filled + count)])
                    filled += count
                }
                let read = monotonicSeconds()
                times.read += read - start
                if bytes.isEmpty { endOfInput = true; return bytes }
                compressedHash.update(bytes)
                times.hash += monotonicSeconds() - read
                compressedSize += Int64(bytes.count)
                return bytes
            } catch {
                throw LayerError(.source, layer: layer, message: "cannot read the blob", cause: error)
            }
        }

        // Enough bytes to tell the compression from the magic, together in `input`.
        while filled < 4 && !endOfInput { _ = try next(lending: false) }
        let compression = Compression.detect(magic: UnsafeRawBufferPointer(rebasing: input[..<filled]))
        if let declared, !declared.admits(compression) {
            throw LayerError(.mediaTypeMismatch, layer: layer,
                             message: "media type \(declared) declares \(declared.declaredLayerCompression?.description ?? "an unknown compression") but the bytes are \(compression == .none ? "uncompressed" : compression.description)")
        }
        let decompressor: any Decompressor = switch compression {
        case .none: PassThrough()
        case .gzip: gzip == .isal ? ISALInflater() : ZlibInflater()
        case .zstd: ZstdDecompressor()
        }

        var pending = UnsafeRawBufferPointer(rebasing: input[..<filled])
        var finished = false
        while !finished {
            guard let chunk = queue.takeEmpty() else { return }
            while !chunk.isFull {
                if pending.isEmpty && !endOfInput {
                    filled = 0
                    pending = try next(lending: true)
                    continue
                }
                let before = pending.count
                let produced: Int
                let start = monotonicSeconds()
                do {
                    produced = try decompressor.decompress(&pending, into: chunk.free)
                } catch {
                    throw failure(error)
                }
                times.inflate += monotonicSeconds() - start
                chunk.count += produced
                if produced == 0 && pending.count == before {
                    // Input exhausted and nothing more buffered in the decoder: the stream is done.
                    if pending.isEmpty { finished = true; break }
                    throw failure(DecodeError(kind: .corrupt, message: "the \(compression) decoder stopped making progress"))
                }
            }
            if chunk.count > 0 {
                queue.send(chunk)
            } else {
                queue.recycle(chunk)
            }
        }
        do {
            try decompressor.finish()
        } catch {
            throw failure(error)
        }
        blob = DecodedBlob(digest: compressedHash.finalize(), size: compressedSize, compression: compression)
    }

    /// After the layer failed on its content (a corrupt stream, a bad tar header): reads the rest
    /// of the blob and returns its digest and size, so that bytes which are not the blob at all
    /// (a registry or a disk returning something else) are reported as such rather than as the
    /// symptom. Called once the decoding thread has ended.
    func drainBlobDigest() -> (Digest, Int64)? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            guard let count = try? source.read(into: buffer) else { return nil }
            if count == 0 { break }
            compressedHash.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            compressedSize += Int64(count)
        }
        return (compressedHash.finalize(), compressedSize)
    }

    /// A decoding error, placed in the blob by how much of it had been read: the damage is at
    /// or before that point (zstd does not say where in its input it stopped). Where the tar
    /// reader was says little: it lags the decoder by up to a queue of buffers, and gets none
    /// of a buffer the error cut short.
    private func failure(_ error: DecodeError) -> LayerError {
        LayerError(Self.code(error.kind), layer: layer, message: "\(error.message) (found after reading \(compressedSize) bytes of the blob)")
    }

    private static func code(_ kind: DecodeError.Kind) -> LayerError.Code {
        switch kind {
        case .truncated: .truncated
        case .corrupt: .corrupt
        case .trailingData: .trailingData
        }
    }
}
