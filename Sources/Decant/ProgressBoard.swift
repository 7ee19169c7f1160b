import DecantArchive
import DecantIO
import Synchronization

/// How far each layer has come — blob bytes read (downloaded, for a registry), entries and file
/// bytes written — for progress events.
final class ProgressBoard: Sendable {
    private struct Entry {
        var digest: String
        var total: Int64
        var read: Int64
        let applied = ApplyProgress()
    }

    private let entries = Mutex<[Int: Entry]>([:])

    /// Wraps `source` so that reading it advances layer `index`'s counter.
    func track(_ source: any ByteSource, index: Int, digest: String, total: Int64) -> (any ByteSource, ApplyProgress) {
        let entry = Entry(digest: digest, total: total, read: 0)
        entries.withLock { $0[index] = entry }
        return (CountingByteSource(source: source, board: self, index: index), entry.applied)
    }

    func advance(_ index: Int, by count: Int) {
        entries.withLock { $0[index]?.read += Int64(count) }
    }

    func finish(_ index: Int) {
        _ = entries.withLock { $0.removeValue(forKey: index) }
    }

    /// One `layer-progress` event per layer being read: `bytes` of the blob's `total` read,
    /// `entries` applied and file bytes `written`.
    func events(image: String) -> [Event] {
        entries.withLock { entries in
            entries.sorted { $0.key < $1.key }.map { index, entry in
                Event(type: "layer-progress", image: image, layer: entry.digest,
                      detail: ["index": String(index), "bytes": String(entry.read), "total": String(entry.total),
                               "entries": String(entry.applied.entries), "written": String(entry.applied.fileBytes)])
            }
        }
    }
}

/// A byte source that reports what was read to a ``ProgressBoard``.
private final class CountingByteSource: ByteSource {
    private let source: any ByteSource
    private let board: ProgressBoard
    private let index: Int

    init(source: any ByteSource, board: ProgressBoard, index: Int) {
        self.source = source
        self.board = board
        self.index = index
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        let count = try source.read(into: buffer)
        board.advance(index, by: count)
        return count
    }

    func lend(upTo limit: Int) throws(SystemCallError) -> UnsafeRawBufferPointer? {
        guard let bytes = try source.lend(upTo: limit) else { return nil }
        board.advance(index, by: bytes.count)
        return bytes
    }
}
