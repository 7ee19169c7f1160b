// What the ApplyLayer and Stages benchmarks share: the layer make-layer.sh builds, fresh extraction
// directories outside the measured region, diagnostics, CPU time and the custom metrics.

import Benchmark
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Metrics

/// Records MB/s (of `bytes`, MB = 10^6 bytes), entries/s when `entries` is given, MB/s of the
/// compressed input when `compressedBytes` is given, and CPU user/system milliseconds. A benchmark
/// keeps only the metrics its configuration lists.
package func record(_ benchmark: Benchmark, bytes: Int64, entries: Int?, compressedBytes: Int64? = nil,
                    elapsed: Duration, cpu: CPUTime) {
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    benchmark.measurement(.megabytesPerSecond, Int((Double(bytes) / 1e6 / seconds).rounded()))
    if let entries {
        benchmark.measurement(.entriesPerSecond, Int((Double(entries) / seconds).rounded()))
    }
    if let compressedBytes {
        benchmark.measurement(.compressedMegabytesPerSecond, Int((Double(compressedBytes) / 1e6 / seconds).rounded()))
    }
    benchmark.measurement(.cpuUserMilliseconds, Int((cpu.user * 1000).rounded()))
    benchmark.measurement(.cpuSystemMilliseconds, Int((cpu.system * 1000).rounded()))
}

extension BenchmarkMetric {
    /// Uncompressed (tar) bytes per second.
    package static let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)
    /// Compressed (blob) bytes per second: the inflate benchmarks only.
    package static let compressedMegabytesPerSecond = BenchmarkMetric.custom("MB/s in", polarity: .prefersLarger, useScalingFactor: false)
    package static let entriesPerSecond = BenchmarkMetric.custom("entries/s", polarity: .prefersLarger, useScalingFactor: false)
    package static let cpuUserMilliseconds = BenchmarkMetric.custom("CPU user ms", polarity: .prefersSmaller, useScalingFactor: false)
    package static let cpuSystemMilliseconds = BenchmarkMetric.custom("CPU sys ms", polarity: .prefersSmaller, useScalingFactor: false)
}

// MARK: - The layer

/// The layer files made by `make-layer.sh`, and what it counted in them.
package struct BenchLayer: Sendable {
    package var directory: String
    package var uncompressedBytes: Int64
    package var entries: Int
    package var gzipBytes: Int64
    package var zstdBytes: Int64
    package var tarPath: String { directory + "/layer.tar" }
    package var gzipPath: String { directory + "/layer.tar.gz" }
    package var zstdPath: String { directory + "/layer.tar.zst" }

    /// Built (or found) once per process, on first use.
    package static let shared = Result { () throws(BenchError) -> BenchLayer in try load() }

    package static var root: String { ProcessInfo.processInfo.environment["DECANT_BENCH_DIR"] ?? "/var/tmp/decant-bench" }

    package static func environment(_ name: String) -> Int? {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) }
    }

    /// Runs make-layer.sh (which does nothing when the layer exists) and reads `layer.env`.
    private static func load() throws(BenchError) -> BenchLayer {
        // This file is Benchmarks/Support/BenchSupport.swift; the script is Benchmarks/make-layer.sh.
        let script = ProcessInfo.processInfo.environment["DECANT_MAKE_LAYER"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("make-layer.sh").path
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
              let entries = values["ENTRIES"].flatMap({ Int($0) }),
              let gzipBytes = values["GZIP_BYTES"].flatMap({ Int64($0) }),
              let zstdBytes = values["ZSTD_BYTES"].flatMap({ Int64($0) })
        else { throw BenchError("\(root)/layer.env lacks UNCOMPRESSED_BYTES, ENTRIES, GZIP_BYTES or ZSTD_BYTES") }
        Diagnostics.reportLoad()
        return BenchLayer(directory: root, uncompressedBytes: bytes, entries: entries,
                          gzipBytes: gzipBytes, zstdBytes: zstdBytes)
    }
}

// MARK: - Fresh directories, outside the measurement

package enum Workspace {
    package static var extractRoot: String { BenchLayer.root + "/extract" }
    static var image: String { BenchLayer.root + "/fs.img" }
    /// `DECANT_BENCH_FS=loop`: a new ext4 filesystem (no journal, like /) on a loop device for every
    /// iteration. sync + drop_caches does not stop ext4 from skipping recently deleted inodes when it
    /// allocates (`recently_deleted()` took half the kernel time here while other sessions deleted
    /// files on /); a fresh filesystem has none.
    static var loop: Bool { ProcessInfo.processInfo.environment["DECANT_BENCH_FS"] == "loop" }

    /// Removes every earlier tree, writes back and drops the page cache, reads `blob` once (when
    /// given) so that it is cached, and returns a new empty directory.
    package static func freshDirectory(warming blob: String?) throws -> String {
        try removeTrees()
        sync()
        Diagnostics.dropCaches()
        try FileManager.default.createDirectory(atPath: extractRoot, withIntermediateDirectories: true)
        if loop {
            try run("/usr/bin/truncate", "-s", ProcessInfo.processInfo.environment["DECANT_BENCH_LOOP_SIZE"] ?? "4G", image)
            try run("/sbin/mkfs.ext4", "-q", "-F", "-O", "^has_journal", image)
            try run("/bin/mount", "-o", "loop", image, extractRoot)
        }
        if let blob { try warm(blob) }
        let directory = extractRoot + "/tree-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        return directory
    }

    /// `rm -rf` of everything under the extract root (faster than FileManager on 36k entries), and
    /// of the loop filesystem.
    package static func removeTrees() throws {
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

package enum Diagnostics {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var said: Set<String> = []
    /// The benchmark executable's name (ApplyLayer, Stages), to prefix messages with.
    private static let program = URL(fileURLWithPath: CommandLine.arguments.first ?? "benchmark").lastPathComponent

    /// Prints `message` to standard error the first time only.
    package static func once(_ message: String) {
        let first = lock.withLock { said.insert(message).inserted }
        if first { FileHandle.standardError.write(Data((program + ": " + message + "\n").utf8)) }
    }

    /// Prints the load average and CPU pressure: other work on this 2-core machine (a build,
    /// another session's tests) moves every figure, tar's as much as the applier's.
    package static func reportLoad() {
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
    package static func dropCaches() {
        let fd = open("/proc/sys/vm/drop_caches", O_WRONLY)
        if fd < 0 || write(fd, "3\n", 2) != 2 {
            once("cannot write /proc/sys/vm/drop_caches (not root?): results will be noisier")
        }
        if fd >= 0 { close(fd) }
    }
}

// MARK: - Small helpers

package struct BenchError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// User and system CPU seconds of this process plus its reaped children.
package struct CPUTime {
    package var user: Double
    package var system: Double

    package static func now() -> CPUTime {
        var own = rusage()
        var children = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &own)
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &children)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return CPUTime(user: seconds(own.ru_utime) + seconds(children.ru_utime),
                       system: seconds(own.ru_stime) + seconds(children.ru_stime))
    }

    package static func - (lhs: CPUTime, rhs: CPUTime) -> CPUTime {
        CPUTime(user: lhs.user - rhs.user, system: lhs.system - rhs.system)
    }
}
