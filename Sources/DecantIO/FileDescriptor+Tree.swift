import CDecantShim
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// What a removal freed: bytes allocated on disk and inodes (hard-linked inodes counted per link).
public struct RemovedUsage: Sendable, Equatable {
    public var bytes: Int64 = 0
    public var inodes: Int64 = 0
    public init() {}
}

extension FileDescriptor {
    /// The names in this directory, without `.` and `..`: `getdents64(2)` through `readdir(3)` on a
    /// duplicate of the descriptor.
    public func entryNames(path: String) throws(SystemCallError) -> [String] {
        let copy = try check("openat", path: path) { decant_openat_dot(rawValue) }
        guard let stream = fdopendir(copy) else {
            let errno = Errno(rawValue: Glibc.errno)
            _ = Glibc.close(copy)
            throw SystemCallError("fdopendir", path: path, errno: errno)
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes `name` and, when it is a directory, everything below it, never following a symlink:
    /// each directory is opened with `O_NOFOLLOW` relative to its parent, so the walk cannot leave
    /// the tree it started in.
    @discardableResult
    public func removeTree(_ name: String, path: String) throws(SystemCallError) -> RemovedUsage {
        var usage = RemovedUsage()
        guard let status = try self.status(of: name) else { return usage }
        if status.isDirectory {
            let child = try openEntry(name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            let owned = OwnedDescriptor(taking: child)
            for entry in try owned.descriptor.entryNames(path: path) {
                let removed = try owned.descriptor.removeTree(entry, path: path + "/" + entry)
                usage.bytes += removed.bytes
                usage.inodes += removed.inodes
            }
            try removeEntry(name, directory: true)
        } else {
            try removeEntry(name)
        }
        usage.bytes += status.allocatedBytes
        usage.inodes += 1
        return usage
    }
}
