import DecantArchive
import Foundation
import Synchronization

/// A timeline of one pull: when each layer waited, was read and extracted, stored, synced and
/// committed, and where its extraction's time went (read, inflate, hash, write). Written as
/// JSON by `decant pull --trace FILE`; `perf/trace-svg.py` draws it.
public final class PullTrace: Sendable {
    /// One interval, in seconds since the pull started.
    public struct Span: Sendable, Codable, Equatable {
        public var phase: String
        public var layer: Int?
        public var start: Double
        public var end: Double
    }

    /// What is known of one layer.
    public struct Layer: Sendable, Codable, Equatable {
        public var index: Int
        public var digest: String
        public var size: Int64
        public var status: String?
        public var entries: Int?
        public var uncompressedSize: Int64?
        public var stages: LayerStageTimes?
    }

    /// The document written to the trace file.
    public struct Document: Sendable, Codable {
        public var image: String
        public var started: Date
        public var seconds: Double
        public var cores: Int
        public var ok: Bool
        public var error: String?
        public var cpuSeconds: CPUTime
        public var layers: [Layer]
        public var spans: [Span]
    }

    /// User and system CPU seconds of the process over the pull.
    public struct CPUTime: Sendable, Codable {
        public var user: Double
        public var system: Double
    }

    private struct State {
        var spans: [Span] = []
        var layers: [Int: Layer] = [:]
    }

    private let origin = ContinuousClock.now
    private let started = Date()
    private let cpuAtStart = PullTrace.processCPU()
    private let state = Mutex(State())

    public init() {}

    /// Seconds since the pull started.
    func now() -> Double { (ContinuousClock.now - origin).seconds }

    /// Records `phase` from `start` (a ``now()`` reading) until now.
    func record(_ phase: String, layer: Int? = nil, since start: Double) {
        let span = Span(phase: phase, layer: layer, start: start, end: now())
        state.withLock { $0.spans.append(span) }
    }

    /// When `phase` of `layer` last ended.
    func end(of phase: String, layer: Int) -> Double? {
        state.withLock { $0.spans.last { $0.phase == phase && $0.layer == layer }?.end }
    }

    func describe(layer index: Int, digest: String, size: Int64) {
        state.withLock { state in
            if state.layers[index] == nil { state.layers[index] = Layer(index: index, digest: digest, size: size) }
        }
    }

    func extracted(layer index: Int, result: LayerApplyResult) {
        state.withLock { state in
            state.layers[index]?.entries = result.entries.total
            state.layers[index]?.uncompressedSize = result.digests.uncompressedSize
            state.layers[index]?.stages = result.stages
        }
    }

    func finished(layer index: Int, status: String) {
        state.withLock { $0.layers[index]?.status = status }
    }

    /// The timeline so far, for an image that pulled (`error == nil`) or failed.
    public func document(image: String, error: String? = nil) -> Document {
        let cpu = Self.processCPU()
        return state.withLock { state in
            Document(image: image, started: started, seconds: now(), cores: ProcessInfo.processInfo.activeProcessorCount,
                     ok: error == nil, error: error,
                     cpuSeconds: CPUTime(user: cpu.user - cpuAtStart.user, system: cpu.system - cpuAtStart.system),
                     layers: state.layers.values.sorted { $0.index < $1.index },
                     spans: state.spans.sorted { ($0.start, $0.layer ?? -1) < ($1.start, $1.layer ?? -1) })
        }
    }

    /// Writes ``document(image:error:)`` as JSON to `path`.
    public func write(to path: String, image: String, error: String? = nil) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(document(image: image, error: error)).write(to: URL(fileURLWithPath: path))
    }

    private static func processCPU() -> CPUTime {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return CPUTime(user: seconds(usage.ru_utime), system: seconds(usage.ru_stime))
    }
}

#if canImport(Glibc)
import Glibc
#endif
