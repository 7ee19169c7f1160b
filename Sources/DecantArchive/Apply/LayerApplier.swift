import DecantIO
import DecantOCI
import Foundation
import Logging
import SystemPackage

/// containerd's `diff.Apply`: a layer blob in, an overlayfs upper directory (or a naive tree) out,
/// and the digests to verify it by.
///
/// Three threads per layer: a decoding thread reads, hashes and decompresses the blob, filling a
/// small ring of buffers; the calling thread parses tar entries straight out of those buffers and
/// writes them, while a hashing thread reads the same buffers for the diff_id. Memory stays at
/// `bufferSize × (bufferCount + 1)` whatever the layer's size.
public enum LayerApplier {
    /// Applies the layer read from `source` into the existing directory `directory`.
    ///
    /// Blocks the calling thread (which does the file writing) until the layer is complete. On
    /// error the directory holds a partial layer and must be discarded; nothing outside it was
    /// touched.
    public static func apply(from source: any ByteSource, into directory: FilePath,
                             options: ApplyOptions, logger: Logger = Logger(label: "decant.apply")) throws(LayerError) -> LayerApplyResult {
        let layer = options.layerName
        let tree: ContainedTree
        do {
            tree = try ContainedTree(root: directory)
        } catch {
            throw LayerError(.filesystem, layer: layer, message: "cannot open the target directory \(directory)", cause: error)
        }
        let started = monotonicSeconds()
        let queue = ChunkQueue(buffers: options.bufferCount, capacity: options.bufferSize, tap: true)
        let hasher = StreamHasher(queue: queue)
        let decoder = LayerDecoder(source: source, declared: options.mediaType, gzip: options.gzip, layer: layer,
                                   queue: queue, readSize: options.bufferSize)
        let decoderDone = DispatchSemaphore(value: 0)
        let thread = Thread {
            decoder.run()
            decoderDone.signal()
        }
        thread.name = "decant-decode"
        thread.start()

        let sink = makeSink(options.io, writeback: options.writeback, logger: logger)
        let writer = LayerWriter(tree: tree, whiteouts: options.whiteouts, sink: sink)
        var position = StreamPosition.header(after: nil)
        do {
            let reader = TarReader(queue: queue)
            reader.beforeRecycle = { try sink.drain() }
            while let entry = try reader.next() {
                if options.cancellation?.isCancelled == true {
                    throw LayerError(.cancelled, layer: layer, entry: entry.name, message: "cancelled")
                }
                position = .entry(entry.name)
                try writer.apply(entry, from: reader)
                position = .header(after: entry.name)
                options.progress?.record(entries: writer.counts.total, fileBytes: writer.fileBytes)
            }
            position = .end
            try reader.drain()
            try writer.finish()
        } catch {
            // Writes still reading the buffers end before the buffers can go.
            try? sink.drain()
            queue.abandon()
            decoderDone.wait()
            _ = hasher.wait()
            var failure = describe(error, layer: layer, entry: position.entry)
            // A header the reader could not read is where the reader was; the decoder's errors
            // (already a LayerError) say where in the blob they were found instead.
            if case .header(let after) = position, !(error is LayerError) {
                failure.message += after.map { " (in the header after entry \($0))" } ?? " (in the first header)"
            }
            if failure.isContentError { failure.blob = decoder.drainBlobDigest() }
            throw failure
        }
        decoderDone.wait()
        let hashed = hasher.wait()
        guard let blob = decoder.blob, let stream = hashed.stream else {
            // The reader saw the stream end, so the decoder finished and recorded the blob's
            // digest, and the hasher saw the same end.
            preconditionFailure("decoder or hasher finished without a digest")
        }
        let digests = StreamDigests(compressedDigest: blob.digest, compressedSize: blob.size, diffID: stream.digest,
                                    uncompressedSize: stream.size, compression: blob.compression)
        var stages = decoder.times
        stages.hash += hashed.seconds
        stages.total = monotonicSeconds() - started
        stages.decoderWaiting = queue.producerWaiting
        stages.writerWaiting = queue.consumerWaiting
        stages.write = max(0, stages.total - stages.writerWaiting)
        return LayerApplyResult(layer: layer, digests: digests, entries: writer.counts, fileBytes: writer.fileBytes,
                                usage: writer.usage, implicitDirectories: writer.implicitDirectories,
                                whiteoutMode: options.whiteouts, io: sink.backend, stages: stages)
    }

    /// The same on a thread of its own, for callers in Swift concurrency: the cooperative pool is
    /// never blocked by file I/O.
    public static func apply(from source: any ByteSource, into directory: FilePath,
                             options: ApplyOptions, logger: Logger = Logger(label: "decant.apply")) async throws(LayerError) -> LayerApplyResult {
        try await applying(from: source, into: directory, options: options, logger: logger).get()
    }

    /// ``apply(from:into:options:logger:)`` with the outcome as a value.
    public static func applying(from source: any ByteSource, into directory: FilePath,
                                options: ApplyOptions, logger: Logger = Logger(label: "decant.apply")) async -> Result<LayerApplyResult, LayerError> {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: Result { () throws(LayerError) in
                    try apply(from: source, into: directory, options: options, logger: logger)
                })
            }
            thread.name = "decant-apply"
            thread.start()
        }
    }

    private static func makeSink(_ backend: FileIOBackend, writeback: EarlyWriteback?, logger: Logger) -> any RegularFileSink {
        switch backend {
        case .syscalls:
            return SyscallFileSink(writeback: writeback)
        case .uring:
            return UringFileSink.make(writeback: writeback, logger: logger) ?? SyscallFileSink(writeback: writeback)
        }
    }

    /// Where in the tar stream the applying thread is, for the error a failure there gets: a
    /// header that cannot be read is placed after the entry before it, not blamed on it.
    private enum StreamPosition {
        case header(after: String?)
        case entry(String)
        case end

        var entry: String? {
            if case .entry(let name) = self { return name }
            return nil
        }
    }

    /// Gives every failure the layer and entry it happened in.
    private static func describe(_ error: any Error, layer: String, entry: String?) -> LayerError {
        switch error {
        case var error as LayerError:
            if error.entry == nil { error.entry = entry }
            return error
        case let error as SystemCallError:
            return LayerError(.filesystem, layer: layer, entry: entry, message: "cannot write the entry", cause: error)
        case let error as TarFormatError:
            return LayerError(.invalidHeader, layer: layer, entry: entry, message: error.message)
        case is TarTruncated:
            return LayerError(.truncated, layer: layer, entry: entry, message: "truncated tar stream: it ends inside an entry")
        case let error as UnsupportedEntry:
            return LayerError(.unsupportedEntry, layer: layer, entry: entry, message: error.message)
        case let error as InvalidWhiteout:
            return LayerError(.invalidWhiteout, layer: layer, entry: entry, message: "invalid whiteout name \(error.name.debugDescription)")
        case let error as MissingHardlinkTarget:
            return LayerError(.filesystem, layer: layer, entry: entry,
                              message: "hardlink target \(error.target.debugDescription) does not exist in this layer's directory",
                              cause: error.cause)
        case let error as DirectoryTimesFailure:
            return LayerError(.filesystem, layer: layer, entry: error.directory, message: "cannot set the directory's times", cause: error.cause)
        case let error as InvalidName:
            return LayerError(.invalidName, layer: layer, entry: error.name, message: "entry name is not valid UTF-8")
        default:
            return LayerError(.filesystem, layer: layer, entry: entry, message: "\(error)")
        }
    }
}
