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

import Benchmark
import DecantArchive
import DecantIO // FileByteSource
import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

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

func record(_ benchmark: Benchmark, bytes: Int64, entries: Int, elapsed: Duration, cpu: CPUTime) {
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    benchmark.measurement(.megabytesPerSecond, Int((Double(bytes) / 1e6 / seconds).rounded()))
    benchmark.measurement(.entriesPerSecond, Int((Double(entries) / seconds).rounded()))
    benchmark.measurement(.cpuUserMilliseconds, Int((cpu.user * 1000).rounded()))
    benchmark.measurement(.cpuSystemMilliseconds, Int((cpu.system * 1000).rounded()))
}

extension BenchmarkMetric {
    static let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)
    static let entriesPerSecond = BenchmarkMetric.custom("entries/s", polarity: .prefersLarger, useScalingFactor: false)
    static let cpuUserMilliseconds = BenchmarkMetric.custom("CPU user ms", polarity: .prefersSmaller, useScalingFactor: false)
    static let cpuSystemMilliseconds = BenchmarkMetric.custom("CPU sys ms", polarity: .prefersSmaller, useScalingFactor: false)
}

// MARK: - The layer

/// The layer files made by `make-layer.sh`, and what it counted in them.
struct BenchLayer: Sendable {
    var directory: String
    var uncompressedBytes: Int64
    var entries: Int
    var gzipPath: String { directory + "/layer.tar.gz" }
    var zstdPath: String { directory + "/layer.tar.zst" }

    /// Built (or found) once per process, on first use.
    static let shared = Result { () throws(BenchError) -> BenchLayer in try load() }

    static var root: String { ProcessInfo.processInfo.environment["DECANT_BENCH_DIR"] ?? "/var/tmp/decant-bench" }

    static func environment(_ name: String) -> Int? {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) }
    }

    /// Runs make-layer.sh (which does nothing when the layer exists) and reads `layer.env`.
    private static func load() throws(BenchError) -> BenchLayer {
        // This file is Benchmarks/Benchmarks/ApplyLayer/ApplyLayer.swift; the script is Benchmarks/make-layer.sh.
        let script = ProcessInfo.processInfo.environment["DECANT_MAKE_LAYER"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("make-layer.sh").path
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/bin/bash")
        make.arguments = [script, root]
        make.standardOutput = FileHandle.standardError
        do {
            try make.run()
        } catch {
            throw BenchError("cannot run \(script): \(error)")
        }
        make.waitUntilExit()
        guard make.terminationStatus == 0 else { throw BenchError("\(script) \(root) failed") }

        guard let text = try? String(contentsOfFile: root + "/layer.env", encoding: .utf8) else {
            throw BenchError("cannot read \(root)/layer.env")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        guard let bytes = values["UNCOMPRESSED_BYTES"].flatMap({ Int64($0) }),
              let entries = values["ENTRIES"].flatMap({ Int($0) })
        else { throw BenchError("\(root)/layer.env lacks UNCOMPRESSED_BYTES or ENTRIES") }
        Diagnostics.reportLoad()
        return BenchLayer(directory: root, uncompressedBytes: bytes, entries: entries)
    }
}

// MARK: - Fresh directories, outside the measurement

enum Workspace {
    static var extractRoot: String { BenchLayer.root + "/extract" }
    static var image: String { BenchLayer.root + "/fs.img" }
    /// `DECANT_BENCH_FS=loop`: a new ext4 filesystem (no journal, like /) on a loop device for every
    /// iteration. sync + drop_caches does not stop ext4 from skipping recently deleted inodes when it
    /// allocates (`recently_deleted()` took half the kernel time here while other sessions deleted
    /// files on /); a fresh filesystem has none.
    static var loop: Bool { ProcessInfo.processInfo.environment["DECANT_BENCH_FS"] == "loop" }

    /// Removes every earlier tree, writes back and drops the page cache, reads `blob` once so that it
    /// is cached, and returns a new empty directory.
    static func freshDirectory(warming blob: String) throws -> String {
        try removeTrees()
        sync()
        Diagnostics.dropCaches()
        try FileManager.default.createDirectory(atPath: extractRoot, withIntermediateDirectories: true)
        if loop {
            try run("/usr/bin/truncate", "-s", ProcessInfo.processInfo.environment["DECANT_BENCH_LOOP_SIZE"] ?? "4G", image)
            try run("/sbin/mkfs.ext4", "-q", "-F", "-O", "^has_journal", image)
            try run("/bin/mount", "-o", "loop", image, extractRoot)
        }
        try warm(blob)
        let directory = extractRoot + "/tree-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        return directory
    }

    /// `rm -rf` of everything under the extract root (faster than FileManager on 36k entries), and
    /// of the loop filesystem.
    static func removeTrees() throws {
        if (try? run("/bin/mountpoint", "-q", extractRoot)) != nil { try run("/bin/umount", extractRoot) }
        if FileManager.default.fileExists(atPath: extractRoot) { try run("/bin/rm", "-rf", extractRoot) }
        if FileManager.default.fileExists(atPath: image) { try run("/bin/rm", "-f", image) }
    }

    private static func run(_ tool: String, _ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("\(tool) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
    }

    private static func warm(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BenchError("cannot open \(path)") }
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {}
    }
}

enum Diagnostics {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var said: Set<String> = []

    /// Prints `message` to standard error the first time only.
    static func once(_ message: String) {
        let first = lock.withLock { said.insert(message).inserted }
        if first { FileHandle.standardError.write(Data(("ApplyLayer: " + message + "\n").utf8)) }
    }

    /// Prints the load average and CPU pressure: other work on this 2-core machine (a build,
    /// another session's tests) moves every figure, tar's as much as the applier's.
    static func reportLoad() {
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
            .split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        let pressure = (try? String(contentsOfFile: "/proc/pressure/cpu", encoding: .utf8))?
            .split(separator: "\n").first.map(String.init) ?? "?"
        once("load average \(load); CPU pressure \(pressure)")
        if let field = pressure.split(separator: " ").first(where: { $0.hasPrefix("avg60=") }),
           let busy = Double(field.dropFirst(6)), busy > 20 {
            once("warning: the CPU is contended (\(busy)% of the last minute): expect noisy results")
        }
    }

    /// `echo 3 > /proc/sys/vm/drop_caches`; needs root, warns once without it.
    static func dropCaches() {
        let fd = open("/proc/sys/vm/drop_caches", O_WRONLY)
        if fd < 0 || write(fd, "3\n", 2) != 2 {
            once("cannot write /proc/sys/vm/drop_caches (not root?): results will be noisier")
        }
        if fd >= 0 { close(fd) }
    }
}

// MARK: - Small helpers

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// User and system CPU seconds of this process plus its reaped children.
struct CPUTime {
    var user: Double
    var system: Double

    static func now() -> CPUTime {
        var own = rusage()
        var children = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &own)
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &children)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return CPUTime(user: seconds(own.ru_utime) + seconds(children.ru_utime),
                       system: seconds(own.ru_stime) + seconds(children.ru_stime))
    }

    static func - (lhs: CPUTime, rhs: CPUTime) -> CPUTime {
        CPUTime(user: lhs.user - rhs.user, system: lhs.system - rhs.system)
    }
}
