import Foundation
import Synchronization

/// Something that happened during a pull, as one JSON line.
public struct Event: Sendable, Codable {
    public var time: Date
    /// `image-create`, `image-update`, `snapshot-prepare`, `snapshot-commit`, `snapshot-remove`,
    /// `unpack-start`, `unpack-finish`, `layer-extracted`, `layer-reused`, `unpack-concurrency` (a registry
    /// pull lets one more layer start because the network keeps the ones in flight waiting).
    public var type: String
    public var image: String?
    public var layer: String?
    public var snapshot: String?
    public var detail: [String: String]?

    public init(type: String, image: String? = nil, layer: String? = nil, snapshot: String? = nil,
                detail: [String: String]? = nil) {
        self.time = Date()
        self.type = type
        self.image = image
        self.layer = layer
        self.snapshot = snapshot
        self.detail = detail
    }
}

/// Receives events; called from any task.
public protocol EventSink: Sendable {
    func emit(_ event: Event)
}

/// Writes events as JSON lines to a file (appending), flushing each line: what
/// `decant pull --events FILE` and the store's own `events.log` (read by `decant events`) use.
public final class JSONLinesEventSink: EventSink {
    private let handle: Mutex<FileHandle>

    public init(path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        self.handle = Mutex(handle)
    }

    public init(handle: FileHandle) {
        self.handle = Mutex(handle)
    }

    public func emit(_ event: Event) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        guard let line = try? encoder.encode(event) else { return }
        handle.withLock { $0.write(line + Data("\n".utf8)) }
    }
}

/// Sends each event to several sinks.
public struct EventFanOut: EventSink {
    public var sinks: [any EventSink]

    public init(_ sinks: [any EventSink]) {
        self.sinks = sinks
    }

    public func emit(_ event: Event) {
        for sink in sinks { sink.emit(event) }
    }
}
