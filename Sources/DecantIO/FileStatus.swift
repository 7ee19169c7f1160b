#if canImport(Glibc)
import Glibc
#endif

/// The parts of `struct stat` decant needs.
public struct FileStatus: Sendable {
    /// The file type and permission bits (`st_mode`).
    public var mode: mode_t
    /// The inode number, for counting hard-linked inodes once.
    public var inode: ino_t
    /// Bytes allocated on disk (`st_blocks * 512`).
    public var allocatedBytes: Int64
    /// The length in bytes (`st_size`).
    public var size: Int64
    /// The number of hard links.
    public var linkCount: Int
    public var uid: uid_t
    public var gid: gid_t
    public var accessTime: timespec
    public var modificationTime: timespec

    init(_ stat: Glibc.stat) {
        self.mode = stat.st_mode
        self.inode = stat.st_ino
        self.allocatedBytes = Int64(stat.st_blocks) * 512
        self.size = Int64(stat.st_size)
        self.linkCount = Int(stat.st_nlink)
        self.uid = stat.st_uid
        self.gid = stat.st_gid
        self.accessTime = stat.st_atim
        self.modificationTime = stat.st_mtim
    }

    public var isDirectory: Bool { mode & S_IFMT == S_IFDIR }
    public var isRegular: Bool { mode & S_IFMT == S_IFREG }
    public var isSymlink: Bool { mode & S_IFMT == S_IFLNK }
}
