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
    /// the tree it started in. Any depth: a directory ``removalDepth`` levels down is first moved
    /// up into this directory (under a name of its own) and removed from there, so the walk holds
    /// that many descriptors at most, and no path it uses grows with the tree (a layer can make a
    /// tree whose paths are far longer than `PATH_MAX`).
    @discardableResult
    public func removeTree(_ name: String, path: String) throws(SystemCallError) -> RemovedUsage {
        var removal = DeepRemoval(holder: self, holderPath: path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ".")
        var usage = try removeTree(name, path: path, depth: 0, removal: &removal)
        while let hoisted = removal.hoisted.popLast() {
            usage.add(try removeTree(hoisted, path: removal.holderPath + "/" + hoisted, depth: 0, removal: &removal))
        }
        return usage
    }

    /// How deep a removal goes below the directory it started in before it moves a directory up.
    static let removalDepth = 64

    private func removeTree(_ name: String, path: String, depth: Int, removal: inout DeepRemoval) throws(SystemCallError) -> RemovedUsage {
        var usage = RemovedUsage()
        guard let status = try self.status(of: name) else { return usage }
        if status.isDirectory {
            if depth == Self.removalDepth {
                try removal.hoist(name, from: self, path: path)
                return usage
            }
            let child = try openEntry(name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
            let owned = OwnedDescriptor(taking: child)
            for entry in try owned.descriptor.entryNames(path: path) {
                usage.add(try owned.descriptor.removeTree(entry, path: path + "/" + entry, depth: depth + 1, removal: &removal))
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

/// The directories a deep removal moved up into the directory it started in, to be removed
/// from there.
private struct DeepRemoval {
    let holder: FileDescriptor
    let holderPath: String
    var hoisted: [String] = []
    private var moved = 0

    init(holder: FileDescriptor, holderPath: String) {
        self.holder = holder
        self.holderPath = holderPath
    }

    /// Moves directory `name` in `parent` into the holder, under a name nothing there has.
    mutating func hoist(_ name: String, from parent: FileDescriptor, path: String) throws(SystemCallError) {
        var target: String
        repeat {
            moved += 1
            target = ".decant-removing-\(moved)"
        } while try holder.status(of: target) != nil
        guard renameat(parent.rawValue, name, holder.rawValue, target) == 0 else {
            throw SystemCallError("renameat", path: path, errno: Errno(rawValue: errno))
        }
        hoisted.append(target)
    }
}

extension RemovedUsage {
    mutating func add(_ other: RemovedUsage) {
        bytes += other.bytes
        inodes += other.inodes
    }
}
