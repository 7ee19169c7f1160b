// The stages of a layer's pipeline one at a time, on the layer the ApplyLayer benchmarks use, so that
// a regression in one stage shows up on its own (the ApplyLayer rows are the end-to-end figures):
//
//   inflate gzip isal / inflate gzip zlib / inflate zstd
//       A decompressor over the whole blob, held in memory, into one reused 1 MiB buffer.
//   hash sha256
//       DigestHasher (swift-crypto's SHA-256) over the uncompressed tar in memory, 1 MiB updates.
//   tar parse
//       TarReader over the uncompressed tar in memory: every header parsed, every entry's data skipped.
//   apply uncompressed
//       LayerApplier from the uncompressed tar in memory into a new directory: no inflate, so the
//       time is tar parsing plus the file system.
//   registry hand-off
//       1 GiB through BlobByteQueue, the hand-off from a registry connection to the layer's
//       thread: 256 KiB parts (what a connection reads at once, taken in turn from 64 MiB of
//       them) pushed from a task, read by a thread into 1 MiB (as LayerDecoder reads). No
//       network, no hashing: the queue's locking and copying. The pushes outrun the reader, so
//       it seldom waits: how often a reader paced by a network is woken is not measured here.
//
// Inputs are read into memory by each benchmark's setup, outside the measured region. The CPU
// stages run on the benchmark's thread alone; the apply has the applier's usual decoding thread,
// which here only copies and hashes (see "writer wait ms").
//
// Metrics: wall clock; MB/s of uncompressed bytes (MB = 10^6 bytes); for inflate also MB/s of the
// compressed input ("MB/s in"); entries/s for tar parse and apply; CPU user/system milliseconds of
// the process (a total well under the wall clock means the thread was waiting for a core).

import Benchmark
@_spi(Benchmarks) import DecantArchive // the decompressors, ChunkBuffer, ChunkQueue, TarReader
import DecantBenchSupport // BenchLayer, Workspace, metrics: Benchmarks/Support
import DecantIO // ByteSource
import DecantOCI // DigestHasher
@_spi(Benchmarks) import DecantRemote // BlobByteQueue
import Foundation
import NIOCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Size of the decoded buffers in the real pipeline (`ApplyOptions.bufferSize`), used for the
/// inflate output, the hash updates and the tar reader's chunks alike.
let chunkSize = 1 << 20

let benchmarks: @Sendable () -> Void = {
    func configuration(_ metrics: [BenchmarkMetric], teardown: Benchmark.BenchmarkTeardownHook? = nil) -> Benchmark.Configuration {
        let custom = metrics + [.cpuUserMilliseconds, .cpuSystemMilliseconds]
        return .init(
            metrics: [.wallClock] + custom,
            timeUnits: .milliseconds,
            units: Dictionary(uniqueKeysWithValues: custom.map { ($0, BenchmarkUnits.count) }),
            warmupIterations: 0,
            maxDuration: .seconds(Int64(BenchLayer.environment("DECANT_BENCH_MAX_SECONDS") ?? 60)),
            maxIterations: BenchLayer.environment("DECANT_BENCH_ITERATIONS") ?? 5,
            teardown: teardown
        )
    }
    let inflate = configuration([.megabytesPerSecond, .compressedMegabytesPerSecond])

    Benchmark("inflate gzip isal", configuration: inflate,
              closure: { benchmark, blob in try inflateBlob(benchmark, blob) { ISALInflater() } },
              setup: { try CompressedBlob(\.gzipPath, size: \.gzipBytes) })
    Benchmark("inflate gzip zlib", configuration: inflate,
              closure: { benchmark, blob in try inflateBlob(benchmark, blob) { ZlibInflater() } },
              setup: { try CompressedBlob(\.gzipPath, size: \.gzipBytes) })
    Benchmark("inflate zstd", configuration: inflate,
              closure: { benchmark, blob in try inflateBlob(benchmark, blob) { ZstdDecompressor() } },
              setup: { try CompressedBlob(\.zstdPath, size: \.zstdBytes) })
    Benchmark("hash sha256", configuration: configuration([.megabytesPerSecond]),
              closure: { benchmark, tar in try hashTar(benchmark, tar) },
              setup: { try TarInMemory() })
    Benchmark("tar parse", configuration: configuration([.megabytesPerSecond, .entriesPerSecond]),
              closure: { benchmark, tar in try parseTar(benchmark, tar) },
              setup: { try TarInMemory() })
    Benchmark("apply uncompressed",
              configuration: configuration([.megabytesPerSecond, .entriesPerSecond, .writerWaitingMilliseconds],
                                           teardown: { try Workspace.removeTrees() }),
              closure: { benchmark, tar in try applyTar(benchmark, tar) },
              setup: { try TarInMemory() })
    Benchmark("registry hand-off", configuration: configuration([.megabytesPerSecond]),
              closure: { benchmark, parts in try await handOff(benchmark, parts) },
              setup: { NetworkParts() })
}

extension BenchmarkMetric {
    /// The applier's writing thread blocked on its decoding thread (`LayerStageTimes.writerWaiting`):
    /// near 0 when the file system, not the copying and hashing, set the pace.
    static let writerWaitingMilliseconds = BenchmarkMetric.custom("writer wait ms", polarity: .prefersSmaller, useScalingFactor: false)
}

// MARK: - The measured work

/// Decompresses the whole blob into `blob.output` again and again, discarding the output.
func inflateBlob(_ benchmark: Benchmark, _ blob: CompressedBlob, decompressor make: () -> any Decompressor) throws {
    let decompressor = make()
    var pending = UnsafeRawBufferPointer(blob.bytes)
    var total: Int64 = 0

    let cpu = CPUTime.now()
    let start = ContinuousClock.now
    benchmark.startMeasurement()
    while true {
        let before = pending.count
        let produced = try decompressor.decompress(&pending, into: blob.output)
        total += Int64(produced)
        // The end condition LayerDecoder uses: nothing produced, nothing consumed.
        if produced == 0 && pending.count == before {
            if pending.isEmpty { break }
            throw BenchError("the decoder stopped making progress with \(pending.count) bytes left")
        }
    }
    try decompressor.finish()
    benchmark.stopMeasurement()
    let elapsed = ContinuousClock.now - start
    let used = CPUTime.now() - cpu

    guard total == blob.layer.uncompressedBytes else {
        throw BenchError("inflated \(total) bytes; make-layer.sh counted \(blob.layer.uncompressedBytes)")
    }
    record(benchmark, bytes: total, entries: nil, compressedBytes: Int64(blob.bytes.count), elapsed: elapsed, cpu: used)
}

/// SHA-256 of the tar, one update per 1 MiB chunk, as LayerDecoder hashes the diff.
func hashTar(_ benchmark: Benchmark, _ tar: TarInMemory) throws {
    let cpu = CPUTime.now()
    let start = ContinuousClock.now
    benchmark.startMeasurement()
    var hasher = DigestHasher()
    for chunk in tar.chunks { hasher.update(chunk.bytes) }
    let digest = hasher.finalize()
    benchmark.stopMeasurement()
    let elapsed = ContinuousClock.now - start
    let used = CPUTime.now() - cpu

    blackHole(digest)
    record(benchmark, bytes: tar.size, entries: nil, elapsed: elapsed, cpu: used)
}

/// Every entry of the tar through TarReader, data skipped. The chunks are all queued before the
/// measurement and the queue closed, so the reader never waits and no second thread runs.
func parseTar(_ benchmark: Benchmark, _ tar: TarInMemory) throws {
    let queue = ChunkQueue(buffers: 0, capacity: chunkSize)
    for chunk in tar.chunks { queue.send(chunk) }
    queue.close(.finished)
    let reader = TarReader(queue: queue)
    var entries = 0

    let cpu = CPUTime.now()
    let start = ContinuousClock.now
    benchmark.startMeasurement()
    while let entry = try reader.next() {
        entries += 1
        blackHole(entry)
    }
    try reader.drain()
    benchmark.stopMeasurement()
    let elapsed = ContinuousClock.now - start
    let used = CPUTime.now() - cpu

    guard entries == tar.layer.entries else {
        throw BenchError("TarReader found \(entries) entries; make-layer.sh counted \(tar.layer.entries)")
    }
    record(benchmark, bytes: tar.size, entries: entries, elapsed: elapsed, cpu: used)
}

/// LayerApplier from the uncompressed tar in memory into a new directory, prepared as the
/// ApplyLayer benchmarks prepare theirs (earlier trees removed, sync, drop_caches).
func applyTar(_ benchmark: Benchmark, _ tar: TarInMemory) throws {
    let directory = try Workspace.freshDirectory(warming: nil)
    let options = ApplyOptions(layerName: tar.layer.tarPath, mediaType: nil, whiteouts: .overlay, io: .syscalls)
    let source = ChunkSource(tar.chunks)

    let cpu = CPUTime.now()
    let start = ContinuousClock.now
    benchmark.startMeasurement()
    let result = try LayerApplier.apply(from: source, into: FilePath(directory), options: options)
    benchmark.stopMeasurement()
    let elapsed = ContinuousClock.now - start
    let used = CPUTime.now() - cpu

    guard result.digests.compression == .none, result.digests.uncompressedSize == tar.size,
          result.entries.total == tar.layer.entries
    else {
        throw BenchError("the applier read \(result.digests.uncompressedSize) \(result.digests.compression) bytes and "
            + "\(result.entries.total) entries; make-layer.sh counted \(tar.size) and \(tar.layer.entries)")
    }
    record(benchmark, bytes: tar.size, entries: result.entries.total, elapsed: elapsed, cpu: used)
    benchmark.measurement(.writerWaitingMilliseconds, Int((result.stages.writerWaiting * 1000).rounded()))
}

/// `NetworkParts.count` parts through a BlobByteQueue to a reading thread, as a registry
/// transfer hands a blob to its layer.
func handOff(_ benchmark: Benchmark, _ parts: NetworkParts) async throws {
    let queue = BlobByteQueue(location: "benchmark")

    let cpu = CPUTime.now()
    let start = ContinuousClock.now
    benchmark.startMeasurement()
    let reading = Task {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            Thread {
                var total = 0
                do {
                    while case let count = try queue.read(into: parts.readBuffer), count > 0 { total += count }
                    continuation.resume(returning: total)
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }
    for index in 0..<NetworkParts.count {
        guard await queue.push(parts.parts[index % parts.parts.count]) else { throw BenchError("the reader went away") }
    }
    queue.finish(.success(()))
    let total = try await reading.value
    benchmark.stopMeasurement()
    let elapsed = ContinuousClock.now - start
    let used = CPUTime.now() - cpu

    let sent = NetworkParts.count * NetworkParts.partSize
    guard total == sent else { throw BenchError("the reader got \(total) bytes of \(sent)") }
    record(benchmark, bytes: Int64(total), entries: nil, elapsed: elapsed, cpu: used)
}

// MARK: - Inputs in memory

/// 256 parts of 256 KiB (64 MiB, more than a CPU cache holds, as a blob's bytes are fresh from
/// the socket), pushed in turn again and again (a ByteBuffer is shared, not copied, when pushed),
/// and the 1 MiB buffer the reading thread reads into.
final class NetworkParts: @unchecked Sendable {
    static let count = 4096
    static let partSize = 256 << 10
    let parts = (0..<256).map { ByteBuffer(repeating: UInt8(truncatingIfNeeded: $0), count: NetworkParts.partSize) }
    let readBuffer: UnsafeMutableRawBufferPointer

    init() {
        readBuffer = .allocate(byteCount: chunkSize, alignment: 4096)
        readBuffer.initializeMemory(as: UInt8.self, repeating: 0) // fault the pages in now
    }

    deinit { readBuffer.deallocate() }
}

/// A compressed blob read whole into memory, and the output buffer every iteration reuses.
final class CompressedBlob: @unchecked Sendable {
    let layer: BenchLayer
    let bytes: UnsafeMutableRawBufferPointer
    let output: UnsafeMutableRawBufferPointer

    init(_ path: KeyPath<BenchLayer, String>, size: KeyPath<BenchLayer, Int64>) throws {
        layer = try BenchLayer.shared.get()
        bytes = .allocate(byteCount: Int(layer[keyPath: size]), alignment: 4096)
        output = .allocate(byteCount: chunkSize, alignment: 4096)
        output.initializeMemory(as: UInt8.self, repeating: 0) // fault the pages in now
        do {
            let count = try readFile(layer[keyPath: path], into: bytes)
            guard count == bytes.count else {
                throw BenchError("\(layer[keyPath: path]) holds \(count) bytes; layer.env says \(bytes.count)")
            }
        } catch {
            bytes.deallocate()
            output.deallocate()
            throw error
        }
    }

    deinit {
        bytes.deallocate()
        output.deallocate()
    }
}

/// `layer.tar` read into full 1 MiB ChunkBuffers (the last one partly filled): what the decoding
/// thread hands the tar reader.
final class TarInMemory: @unchecked Sendable {
    let layer: BenchLayer
    let chunks: [ChunkBuffer]
    let size: Int64

    init() throws {
        layer = try BenchLayer.shared.get()
        let fd = open(layer.tarPath, O_RDONLY)
        guard fd >= 0 else { throw BenchError("cannot open \(layer.tarPath): errno \(errno)") }
        defer { close(fd) }
        var chunks: [ChunkBuffer] = []
        var size: Int64 = 0
        while true {
            let chunk = ChunkBuffer(capacity: chunkSize)
            chunk.count = try readFully(fd, into: chunk.free, path: layer.tarPath)
            if chunk.count == 0 { break }
            chunks.append(chunk)
            size += Int64(chunk.count)
            if chunk.count < chunkSize { break }
        }
        guard size == layer.uncompressedBytes else {
            throw BenchError("\(layer.tarPath) holds \(size) bytes; layer.env says \(layer.uncompressedBytes)")
        }
        self.chunks = chunks
        self.size = size
    }
}

/// A ByteSource over the chunks, copying as a file read would.
final class ChunkSource: ByteSource, @unchecked Sendable {
    private let chunks: [ChunkBuffer]
    private var index = 0
    private var offset = 0

    init(_ chunks: [ChunkBuffer]) { self.chunks = chunks }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        while written < buffer.count && index < chunks.count {
            let bytes = chunks[index].bytes
            let count = min(buffer.count - written, bytes.count - offset)
            (buffer.baseAddress! + written).copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
            written += count
            offset += count
            if offset == bytes.count {
                index += 1
                offset = 0
            }
        }
        return written
    }
}

/// Reads the file into `buffer`; returns the bytes read (less than `buffer.count` when the file is shorter).
func readFile(_ path: String, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw BenchError("cannot open \(path): errno \(errno)") }
    defer { close(fd) }
    return try readFully(fd, into: buffer, path: path)
}

/// read(2) until `buffer` is full or the file ends.
func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
    var filled = 0
    while filled < buffer.count {
        let count = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
        if count < 0 {
            if errno == EINTR { continue }
            throw BenchError("cannot read \(path): errno \(errno)")
        }
        if count == 0 { break }
        filled += count
    }
    return filled
}
