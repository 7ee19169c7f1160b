import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// containerd's `fs.DiskUsage`: bytes allocated and inodes below a directory, hard-linked inodes
/// once, symlinks not followed.
enum DiskUsage {
    static func measure(_ root: String) -> SnapshotUsage {
        var seen = Set<UInt64>()
        var size: Int64 = 0
        var inodes: Int64 = 0
        func visit(_ path: String) {
            var status = stat()
            guard lstat(path, &status) == 0 else { return }
            if seen.insert(UInt64(status.st_ino)).inserted {
                size += Int64(status.st_blocks) * 512
                inodes += 1
            }
            if status.st_mode & S_IFMT == S_IFDIR, let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
                for name in names { visit(path + "/" + name) }
            }
        }
        visit(root)
        return SnapshotUsage(size: size, inodes: inodes)
    }
}
