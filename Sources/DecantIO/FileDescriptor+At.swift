import CDecantShim
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Typed wrappers over the `*at` system calls, made relative to a directory descriptor.
///
/// Every `name` here is a single path component inside the directory (the caller resolved the
/// directory inside its root first), and no call follows a symlink in that last component.
extension FileDescriptor {
    /// Opens a directory by an ordinary path: `open(2)` with `O_DIRECTORY`.
    public static func openDirectory(_ path: FilePath) throws(SystemCallError) -> FileDescriptor {
        let fd = path.withPlatformString { cPath in
            decant_openat(AT_FDCWD, cPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        }
        if fd < 0 { throw SystemCallError("open", path: path.string, errno: Errno(rawValue: Glibc.errno)) }
        return FileDescriptor(rawValue: fd)
    }

    /// Opens `path` below this directory with every component resolved inside it:
    /// `openat2(2)` with `RESOLVE_IN_ROOT`, so `..`, absolute paths and symlinks (absolute or
    /// relative) cannot leave the tree.
    public func openInRoot(_ path: String, flags: Int32, mode: mode_t = 0) throws(SystemCallError) -> FileDescriptor {
        let resolve = DECANT_RESOLVE_IN_ROOT | DECANT_RESOLVE_NO_MAGICLINKS
        let fd = try check("openat2", path: path) {
            decant_openat2(rawValue, path, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), UInt64(mode), resolve)
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Opens or creates the entry `name` in this directory: `openat(2)`.
    public func openEntry(_ name: String, flags: Int32, mode: mode_t = 0) throws(SystemCallError) -> FileDescriptor {
        let fd = try check("openat", path: name) { decant_openat(rawValue, name, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    /// Creates a directory: `mkdirat(2)`.
    public func makeDirectory(_ name: String, mode: mode_t) throws(SystemCallError) {
        _ = try check("mkdirat", path: name) { mkdirat(rawValue, name, mode) }
    }

    /// Creates a symlink holding `target`: `symlinkat(2)`.
    public func makeSymlink(_ name: String, target: String) throws(SystemCallError) {
        _ = try check("symlinkat", path: name) { symlinkat(target, rawValue, name) }
    }

    /// Links `existing` (in `directory`) under `name` here, without following a symlink: `linkat(2)`.
    public func makeHardlink(_ name: String, to existing: String, in directory: FileDescriptor) throws(SystemCallError) {
        _ = try check("linkat", path: name) { linkat(directory.rawValue, existing, rawValue, name, 0) }
    }

    /// Creates a device node or fifo: `mknodat(2)`.
    public func makeNode(_ name: String, mode: mode_t, device: dev_t) throws(SystemCallError) {
        _ = try check("mknodat", path: name) { mknodat(rawValue, name, mode, device) }
    }

    /// Changes an entry's owner without following a symlink: `fchownat(2)` with `AT_SYMLINK_NOFOLLOW`.
    public func changeOwner(of name: String, uid: uid_t, gid: gid_t) throws(SystemCallError) {
        _ = try check("fchownat", path: name) { fchownat(rawValue, name, uid, gid, AT_SYMLINK_NOFOLLOW) }
    }

    /// Changes an entry's permission bits: `fchmodat(2)`. Never called on symlinks, which have none.
    public func changeMode(of name: String, mode: mode_t) throws(SystemCallError) {
        _ = try check("fchmodat", path: name) { fchmodat(rawValue, name, mode, 0) }
    }

    /// Sets an entry's times without following a symlink: `utimensat(2)` with `AT_SYMLINK_NOFOLLOW`.
    public func setTimes(of name: String, _ times: FileTimes) throws(SystemCallError) {
        var pair = [times.access, times.modification]
        _ = try check("utimensat", path: name) { utimensat(rawValue, name, &pair, AT_SYMLINK_NOFOLLOW) }
    }

    /// Reads an entry's status without following a symlink: `fstatat(2)`; `nil` when it is absent.
    public func status(of name: String) throws(SystemCallError) -> FileStatus? {
        var buffer = Glibc.stat()
        while true {
            if fstatat(rawValue, name, &buffer, AT_SYMLINK_NOFOLLOW) == 0 { return FileStatus(buffer) }
            let errno = Errno(rawValue: Glibc.errno)
            if errno == .interrupted { continue }
            if errno == .noSuchFileOrDirectory { return nil }
            throw SystemCallError("fstatat", path: name, errno: errno)
        }
    }

    /// Removes a file (or, with `directory`, an empty directory): `unlinkat(2)`.
    public func removeEntry(_ name: String, directory: Bool = false) throws(SystemCallError) {
        _ = try check("unlinkat", path: name) { unlinkat(rawValue, name, directory ? AT_REMOVEDIR : 0) }
    }

    /// Sets an extended attribute on an entry without following a symlink: `lsetxattr(2)` through
    /// this directory's `/proc/self/fd` link, since symlinks and device nodes cannot be opened for
    /// `fsetxattr(2)`.
    public func setExtendedAttribute(of name: String, _ key: String, value: [UInt8]) throws(SystemCallError) {
        let path = "/proc/self/fd/\(rawValue)/\(name)"
        _ = try check("lsetxattr", path: name + " (" + key + ")") {
            value.withUnsafeBytes { decant_lsetxattr(path, key, $0.baseAddress, $0.count) }
        }
    }

    // MARK: Calls on an open descriptor

    /// Sets an extended attribute on this open file: `fsetxattr(2)`.
    public func setExtendedAttribute(_ key: String, value: [UInt8], path: String) throws(SystemCallError) {
        _ = try check("fsetxattr", path: path + " (" + key + ")") {
            value.withUnsafeBytes { decant_fsetxattr(rawValue, key, $0.baseAddress, $0.count) }
        }
    }

    /// This file's extended attributes, names and values: `flistxattr(2)` and `fgetxattr(2)`.
    public func extendedAttributes(path: String) throws(SystemCallError) -> [(key: String, value: [UInt8])] {
        let listSize = try check("flistxattr", path: path) { Int32(decant_flistxattr(rawValue, nil, 0)) }
        guard listSize > 0 else { return [] }
        var names = [CChar](repeating: 0, count: Int(listSize))
        let filled = try check("flistxattr", path: path) { Int32(decant_flistxattr(rawValue, &names, names.count)) }
        var result: [(key: String, value: [UInt8])] = []
        for nameBytes in names[..<Int(filled)].split(separator: 0) {
            let key = String(decoding: nameBytes.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let size = try check("fgetxattr", path: path + " (" + key + ")") { Int32(decant_fgetxattr(rawValue, key, nil, 0)) }
            var value = [UInt8](repeating: 0, count: Int(size))
            let got = try check("fgetxattr", path: path + " (" + key + ")") {
                Int32(value.withUnsafeMutableBytes { decant_fgetxattr(rawValue, key, $0.baseAddress, $0.count) })
            }
            result.append((key, Array(value.prefix(Int(got)))))
        }
        return result
    }

    /// Changes this file's owner: `fchown(2)`.
    public func changeOwner(uid: uid_t, gid: gid_t, path: String) throws(SystemCallError) {
        _ = try check("fchown", path: path) { fchown(rawValue, uid, gid) }
    }

    /// Changes this file's permission bits: `fchmod(2)`.
    public func changeMode(_ mode: mode_t, path: String) throws(SystemCallError) {
        _ = try check("fchmod", path: path) { fchmod(rawValue, mode) }
    }

    /// Sets this file's times: `futimens(2)`.
    public func setTimes(_ times: FileTimes, path: String) throws(SystemCallError) {
        var pair = [times.access, times.modification]
        _ = try check("futimens", path: path) { futimens(rawValue, &pair) }
    }

    /// This file's status: `fstat(2)`.
    public func status(path: String) throws(SystemCallError) -> FileStatus {
        var buffer = Glibc.stat()
        _ = try check("fstat", path: path) { fstat(rawValue, &buffer) }
        return FileStatus(buffer)
    }

    /// Writes all of `bytes`, looping over short writes: `write(2)`.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, path: String) throws(SystemCallError) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(rawValue, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                let errno = Errno(rawValue: Glibc.errno)
                if errno == .interrupted { continue }
                throw SystemCallError("write", path: path, errno: errno)
            }
            offset += written
        }
    }

    /// Writes all of `bytes` at `offset`, looping over short writes: `pwrite(2)`.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws(SystemCallError) {
        var done = 0
        while done < bytes.count {
            let written = Glibc.pwrite(rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if written < 0 {
                let errno = Errno(rawValue: Glibc.errno)
                if errno == .interrupted { continue }
                throw SystemCallError("pwrite", path: path, errno: errno)
            }
            done += written
        }
    }

    /// Flushes the whole filesystem this descriptor lives on: `syncfs(2)`.
    public func syncFilesystem(path: String) throws(SystemCallError) {
        _ = try check("syncfs", path: path) { decant_syncfs(rawValue) }
    }

    /// Marks this directory as a top of directory hierarchies (`FS_TOPDIR_FL`, `chattr +T`): ext4
    /// then places each directory created in it as it places those of the root, in a block group
    /// of its own with free inodes (the Orlov allocator), instead of next to its parent. Throws
    /// where the file system has no such flag.
    public func markTopDirectory(path: String) throws(SystemCallError) {
        _ = try check("ioctl(FS_IOC_SETFLAGS)", path: path) { decant_mark_top_directory(rawValue) }
    }

    /// Asks the kernel to start writing `length` bytes from `offset` to disk, without waiting:
    /// `sync_file_range(2)` with `SYNC_FILE_RANGE_WRITE`. Advisory, so failures are ignored; a
    /// later `syncfs`/`fsync` reports any I/O error.
    public func startWriteback(offset: Int64, length: Int64) {
        _ = decant_start_writeback(rawValue, offset, length)
    }

    /// Allocates disk blocks for the file's first `length` bytes without changing its size
    /// (`fallocate(2)` with `FALLOC_FL_KEEP_SIZE`): writes there later need no free space.
    public func reserveBlocks(length: Int64, path: String) throws(SystemCallError) {
        _ = try check("fallocate", path: path) { decant_reserve_blocks(rawValue, length) }
    }

    /// How many of the file's pages in the page cache are dirty and how many are being written:
    /// `cachestat(2)`, Linux 6.5 and later.
    public func pageCacheState(path: String) throws(SystemCallError) -> (dirtyPages: UInt64, writebackPages: UInt64) {
        var dirty: UInt64 = 0
        var writeback: UInt64 = 0
        _ = try check("cachestat", path: path) { decant_cachestat(rawValue, &dirty, &writeback) }
        return (dirty, writeback)
    }
}
