import DecantIO
import DecantOCI
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Blobs that are files on the store's filesystem already (an OCI layout directory) become
/// blobs by a hard link: no second copy to write, read back and flush.
extension ContentStore {
    /// Whether ``link(_:verified:size:labels:)`` can take `file`: a regular file of `size` bytes on
    /// the store's filesystem, owned by this process's user and writable by nobody else (so that
    /// nobody the store does not trust can change a blob through the other name).
    public func canLink(_ file: FileDescriptor, size: Int64) -> Bool {
        var status = stat()
        var blobs = stat()
        guard fstat(file.rawValue, &status) == 0, stat(layout.blobs, &blobs) == 0 else { return false }
        return status.st_mode & S_IFMT == S_IFREG && Int64(status.st_size) == size
            && status.st_uid == geteuid() && status.st_mode & 0o022 == 0 && status.st_dev == blobs.st_dev
    }

    /// Publishes `file` as blob `digest` by a hard link, once its data is on disk. The caller read
    /// the bytes through this very descriptor and found `digest` and `size`. `false` when the
    /// file cannot be linked (another filesystem, its owner or mode; nothing was changed): copy it
    /// instead.
    public func link(_ file: FileDescriptor, verified digest: Digest, size: Int64,
                     labels: [String: String]) throws(StoreError) -> Bool {
        guard canLink(file, size: size) else { return false }
        if fsync(file.rawValue) != 0 {
            throw StoreError(.io, "cannot flush blob \(digest) before linking it",
                             cause: SystemCallError("fsync", path: nil, errno: Errno(rawValue: errno)))
        }
        let target = layout.blob(digest.encoded)
        // Through /proc: the inode that was read and checked, not whatever the path names now.
        var placed: FileDescriptor? = file
        if linkat(AT_FDCWD, "/proc/self/fd/\(file.rawValue)", AT_FDCWD, target, AT_SYMLINK_FOLLOW) != 0 {
            let error = Errno(rawValue: errno)
            // A blob appears under its name only verified: whoever put it there first stored it.
            guard error == .fileExists else { return false }
            placed = nil
        }
        _ = try recordPublished(digest, labels: labels, placed: placed)
        return true
    }
}
