import DecantIO
import Synchronization
import SystemPackage

/// For each snapshot being extracted, a descriptor of its directory opened before the layer's
/// first write, and flushed (`syncfs`) at its commit.
///
/// `syncfs` reports a writeback error to each open file once, counting from when that file was
/// opened. A descriptor opened at commit would miss an error that another flush of the same file
/// system (another pull, another layer, `sync -f`) reported first, and the snapshot would be
/// committed with data that never reached the disk. One opened before the writes cannot.
final class FlushHandles: Sendable {
    private let handles = Mutex<[String: OwnedDescriptor]>([:])

    /// Opens `directory` for the snapshot `key`.
    func open(_ key: String, directory: String) throws(SystemCallError) {
        let handle = OwnedDescriptor(taking: try FileDescriptor.openDirectory(FilePath(directory)))
        handles.withLock { $0[key] = handle }
    }

    /// The descriptor opened for `key`, handed over (closed once the caller drops it).
    func take(_ key: String) -> OwnedDescriptor? {
        handles.withLock { $0.removeValue(forKey: key) }
    }
}
