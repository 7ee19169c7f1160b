import DecantIO
import Foundation
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Something that happened during a pull, as one JSON line.
public struct Event: Sendable, Codable {
    public var time: Date
    /// `image-create`, `image-update`, `snapshot-prepare`, `snapshot-commit`, `snapshot-remove`,
    /// `unpack-start`, `unpack-finish`, `layer-extracted`, `layer-reused`, `layer-resume`,
    /// `layer-restart` (the bytes of a resumed ingest were not the blob's: the layer is extracted
    /// again, all from the source), `layer-blob-wait` (another writer, usually a pull in another
    /// process, is storing the layer's blob: the pull waits for it before recording the image),
    /// `unpack-concurrency` (a registry pull lets one more layer start because the network keeps
    /// the ones in flight waiting).
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

/// Writes events as JSON lines to a file (appending), one `write` per line: what
/// `decant pull --events FILE` and the store's own `events.log` (read by `decant events`) use.
///
/// Events are a record, not the work: when a line cannot be written (the disk is full), the sink
/// says so once on stderr and writes nothing more, and the pull goes on.
public final class JSONLinesEventSink: EventSink {
    private let file: FileDescriptor
    /// Keeps a file this sink opened open; `nil` for a descriptor it was given.
    private let owned: OwnedDescriptor?
    /// Named in the warning.
    private let name: String
    private let failed = Mutex(false)

    /// Appends to `path`, creating it. With `rotatingAt`, a file already that big is first
    /// renamed to `path.1` (replacing the one there), so that a log every pull appends to stays
    /// within twice that size.
    public init(path: String, rotatingAt limit: Int64? = nil) throws(SystemCallError) {
        if let limit, let status = try? FileDescriptor(rawValue: AT_FDCWD).status(of: path), status.size >= limit {
            // Another process may have rotated it meanwhile: then there is nothing to move.
            if rename(path, path + ".1") != 0 && errno != ENOENT {
                throw SystemCallError("rename", path: path, errno: Errno(rawValue: errno))
            }
        }
        let owned = OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(
            path, flags: O_WRONLY | O_CREAT | O_APPEND, mode: 0o644))
        self.owned = owned
        self.file = owned.descriptor
        self.name = path
    }

    /// Writes to `descriptor` (standard output), which stays open.
    public init(descriptor: FileDescriptor, name: String = "standard output") {
        self.owned = nil
        self.file = descriptor
        self.name = name
    }

    public func emit(_ event: Event) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        guard let line = try? encoder.encode(event) else { return }
        failed.withLock { failed in
            guard !failed else { return }
            do {
                try (line + Data("\n".utf8)).withUnsafeBytes { bytes in try file.writeAll(bytes, path: name) }
            } catch {
                failed = true
                let warning = "decant: cannot write events: \(error); later events are not written there\n"
                try? Data(warning.utf8).withUnsafeBytes { bytes in try FileDescriptor.standardError.writeAll(bytes, path: "standard error") }
            }
        }
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
