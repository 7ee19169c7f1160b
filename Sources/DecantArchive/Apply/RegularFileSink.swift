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
    var mode: mode_t = 0
    var times = FileTimes(access: timespec(), modification: timespec())

    init(path: String, descriptor: OwnedDescriptor) {
        self.path = path
        self.descriptor = descriptor
    }
}

/// Writes regular files' data, then sets their mode and times and closes them.
///
/// Mode and times must come after the data (a write moves the mtime), which is why they belong to
/// the sink: an asynchronous sink applies them once the data is on its way.
protocol RegularFileSink: AnyObject {
    /// The backend this sink runs on.
    var backend: FileIOBackend { get }
    /// Writes `bytes` at the file's current offset. The bytes must stay valid until ``drain()``.
    func write(_ bytes: UnsafeRawBufferPointer, to file: OpenFile) throws(SystemCallError)
    /// Ends a file whose data was all written: its `mode` and `times` are applied, then it is closed.
    func finish(_ file: OpenFile) throws(SystemCallError)
    /// Completes everything queued.
    func drain() throws(SystemCallError)
    /// Bytes allocated on disk by the files finished and drained so far.
    var allocatedBytes: Int64 { get }
}

/// One system call per operation, completed before the call returns.
final class SyscallFileSink: RegularFileSink {
    private(set) var allocatedBytes: Int64 = 0

    var backend: FileIOBackend { .syscalls }

    func write(_ bytes: UnsafeRawBufferPointer, to file: OpenFile) throws(SystemCallError) {
        try file.descriptor!.descriptor.writeAll(bytes, path: file.path)
        file.offset += Int64(bytes.count)
    }

    func finish(_ file: OpenFile) throws(SystemCallError) {
        let descriptor = file.descriptor!.descriptor
        try descriptor.changeMode(file.mode, path: file.path)
        try descriptor.setTimes(file.times, path: file.path)
        allocatedBytes += try descriptor.status(path: file.path).allocatedBytes
        file.descriptor = nil
    }

    func drain() {}
}
