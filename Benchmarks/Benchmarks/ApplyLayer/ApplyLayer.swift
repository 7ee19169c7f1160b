// The layer applier against GNU tar, on the same layer in the same run.
//
// Every iteration extracts into a new empty directory under /var/tmp/decant-bench/extract (with
// DECANT_BENCH_FS=loop: on a new loop-mounted ext4 made for the iteration). Before it, outside the
// measured region: the previous iteration's tree is removed, the page cache is written back and
// dropped (`sync`, `echo 3 > /proc/sys/vm/drop_caches`: on this journal-less ext4, creating files
// right after an `rm -rf` costs several times more kernel time, see shared/ANCHORS.md), and the
// layer blob is read once so that the input is warm for every tool.
//
// Metrics: wall clock of the extraction alone, MB/s (uncompressed tar bytes / s, MB = 10^6 bytes),
// entries/s, and CPU user/system milliseconds of the extraction: this process for the applier,
// the reaped child processes for tar (tar plus its gzip or zstd).
//
// The Stages target (../Stages) times inflate, hash, tar parsing and the writing alone.

import Benchmark
import DecantArchive
import DecantBenchSupport // BenchLayer, Workspace, metrics: Benchmarks/Support
import DecantIO // FileByteSource
import Foundation
import SystemPackage

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [
        .wallClock, .peakMemoryResident, .megabytesPerSecond, .entriesPerSecond, .cpuUserMilliseconds, .cpuSystemMilliseconds,
    ]
    Benchmark.defaultConfiguration = .init(
        metrics: metrics,
        timeUnits: .milliseconds,
        units: [
            .megabytesPerSecond: .count, .entriesPerSecond: .count,
            .cpuUserMilliseconds: .count, .cpuSystemMilliseconds: .count,
        ],
        warmupIterations: 0,
        maxDuration: .seconds(Int64(BenchLayer.environment("DECANT_BENCH_MAX_SECONDS") ?? 60)),
        maxIterations: BenchLayer.environment("DECANT_BENCH_ITERATIONS") ?? 5,
        // Runs before the first iteration: builds the layer if it is missing.
        setup: { _ = try BenchLayer.shared.get() },
        teardown: { try Workspace.removeTrees() }
    )

    Benchmark("apply gzip isal") { benchmark in
        try applyLayer(benchmark, blob: \.gzipPath, gzip: .isal, io: .syscalls)
    }
    Benchmark("apply gzip zlib") { benchmark in
        try applyLayer(benchmark, blob: \.gzipPath, gzip: .zlib, io: .syscalls)
    }
    Benchmark("apply zstd") { benchmark in
        try applyLayer(benchmark, blob: \.zstdPath, gzip: .isal, io: .syscalls)
    }
    Benchmark("apply gzip isal io_uring") { benchmark in
        try applyLayer(benchmark, blob: \.gzipPath, gzip: .isal, io: .uring)
    }
    Benchmark("tar -xzf gzip") { benchmark in
        try runTar(benchmark, blob: \.gzipPath, arguments: ["-xzf"])
    }
    Benchmark("tar --zstd -xf zstd") { benchmark in
        try runTar(benchmark, blob: \.zstdPath, arguments: ["--zstd", "-xf"])
    }
}

// MARK: - The measured work

func applyLayer(_ benchmark: Benchmark, blob: KeyPath<BenchLayer, String>, gzip: GzipImplementation,
                io: FileIOBackend) throws {
    let layer = try BenchLayer.shared.get()
    let path = layer[keyPath: blob]
    let directory = try Workspace.freshDirectory(warming: path)
    let options = ApplyOptions(layerName: path, mediaType: nil, whiteouts: .overlay, gzip: gzip, io: io)

    let cpu = CPUTime.now()
    let start = ContinuousClock.now
    benchmark.startMeasurement()
    let source = try FileByteSource(path: FilePath(path))
    let result = try LayerApplier.apply(from: source, into: FilePath(directory), options: options)
    benchmark.stopMeasurement()
    let elapsed = ContinuousClock.now - start
    let used = CPUTime.now() - cpu

    if result.digests.uncompressedSize != layer.uncompressedBytes || result.entries.total != layer.entries {
        Diagnostics.once("applier counted \(result.digests.uncompressedSize) bytes and \(result.entries.total) entries; "
            + "make-layer.sh counted \(layer.uncompressedBytes) and \(layer.entries)")
    }
    record(benchmark, bytes: result.digests.uncompressedSize, entries: result.entries.total, elapsed: elapsed, cpu: used)
}

func runTar(_ benchmark: Benchmark, blob: KeyPath<BenchLayer, String>, arguments: [String]) throws {
    let layer = try BenchLayer.shared.get()
    let path = layer[keyPath: blob]
    let directory = try Workspace.freshDirectory(warming: path)
    let tar = Process()
    tar.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
    tar.arguments = arguments + [path, "-C", directory]

    let cpu = CPUTime.now()
    let start = ContinuousClock.now
    benchmark.startMeasurement()
    try tar.run()
    tar.waitUntilExit()
    benchmark.stopMeasurement()
    let elapsed = ContinuousClock.now - start
    let used = CPUTime.now() - cpu

    guard tar.terminationReason == .exit, tar.terminationStatus == 0 else {
        throw BenchError("tar \(tar.arguments!.joined(separator: " ")) exited with \(tar.terminationStatus)")
    }
    record(benchmark, bytes: layer.uncompressedBytes, entries: layer.entries, elapsed: elapsed, cpu: used)
}
