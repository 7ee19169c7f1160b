import DecantIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A regular file being written by the applier.
final class OpenFile {
    /// The file's path inside the layer, for errors.
    let path: String
    /// Owned until the sink closes it.
    var descriptor: OwnedDescriptor?
    /// Where the next write goes.
    var offset: Int64 = 0
    /// The size its entry declares.
    let size: Int64
    /// Whether its data goes through a ``DirectFileAppender``.
    var direct = false
    private var writeback = WritebackCursor()
    /// Applied once the data is written.
    let metadata: EntryMetadata

    init(path: String, descriptor: OwnedDescriptor, size: Int64, metadata: EntryMetadata) {
        self.path = path
        self.descriptor = descriptor
        self.size = size
        self.metadata = metadata
    }

    /// Starts writeback of the data written since the last call once there is `policy.stride` of
    /// it, or, with `final`, of whatever is left of a file of at least `policy.minimumFileSize`.
    func startWriteback(_ policy: EarlyWriteback, final: Bool) {
        if final {
            guard offset >= policy.minimumFileSize else { return }
            writeback.advance(descriptor!.descriptor, written: offset, minimum: 1, final: true)
        } else {
            writeback.advance(descriptor!.descriptor, written: offset, minimum: policy.stride)
        }
    }

    /// Applies the metadata, notes the disk usage and closes the file; returns the bytes allocated.
    func complete() throws(SystemCallError) -> Int64 {
        let handle = descriptor!.descriptor
        let status = try handle.status(path: path)
        try metadata.apply(to: handle, path: path, current: status)
        // Owner, mode and times leave the allocation as it was; an attribute may need a block.
        let allocated = metadata.xattrs.isEmpty ? status.allocatedBytes : try handle.status(path: path).allocatedBytes
        descriptor = nil
        return allocated
    }
}

/// Writes regular files' data, then applies their metadata and closes them.
///
/// The metadata must come after the data (a write moves the mtime and drops
/// `security.capability`), which is why it belongs to the sink: an asynchronous sink applies it
/// once the writes completed.
protocol RegularFileSink: AnyObject {
    /// The backend this sink runs on.
    var backend: FileIOBackend { get }
    /// Writes `bytes` at the file's current offset. The bytes must stay valid until ``drain()``.
    func write(_ bytes: UnsafeRawBufferPointer, to file: OpenFile) throws(SystemCallError)
    /// Ends a file whose data was all written: its metadata is applied, then it is closed.
    func finish(_ file: OpenFile) throws(SystemCallError)
    /// Completes everything queued.
    func drain() throws(SystemCallError)
    /// Bytes allocated on disk by the files finished and drained so far.
    var allocatedBytes: Int64 { get }
}

/// One system call per operation, completed before the call returns; large files' data through
/// a ``DirectFileAppender`` when the policy asks for it, from the caller's buffers where they are
/// aligned for it (the last such write is still in flight until ``drain()``).
final class SyscallFileSink: RegularFileSink {
    private(set) var allocatedBytes: Int64 = 0
    private let writeback: EarlyWriteback?
    /// Made for the first file written directly, then reused; `nil` until then.
    private var appender: DirectFileAppender?
    private var appenderUnavailable = false

    var backend: FileIOBackend { .syscalls }

    init(writeback: EarlyWriteback?) {
        self.writeback = writeback
    }

    func write(_ bytes: UnsafeRawBufferPointer, to file: OpenFile) throws(SystemCallError) {
        if file.offset == 0, let minimum = writeback?.directMinimumFileSize, file.size >= minimum,
           let appender = directAppender() {
            file.direct = appender.start(file.descriptor!, path: file.path, offset: 0)
        }
        if file.direct {
            // From the applier's buffers, which stay untouched until drain().
            try appender!.append(borrowing: bytes)
            file.offset += Int64(bytes.count)
            return
        }
        try file.descriptor!.descriptor.writeAll(bytes, path: file.path)
        file.offset += Int64(bytes.count)
        if let writeback { file.startWriteback(writeback, final: false) }
    }

    func finish(_ file: OpenFile) throws(SystemCallError) {
        if file.direct {
            file.direct = false
            try appender!.finish()
        } else if let writeback {
            file.startWriteback(writeback, final: true)
        }
        allocatedBytes += try file.complete()
    }

    func drain() throws(SystemCallError) {
        try appender?.settle()
    }

    private func directAppender() -> DirectFileAppender? {
        if appender == nil && !appenderUnavailable {
            appender = DirectFileAppender()
            appenderUnavailable = appender == nil
        }
        return appender
    }
}
