import DecantIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// containerd's `WithParents`, done at commit time: a directory a layer created only because an
/// entry needed it takes owner, mode, times and (non-`trusted.*`) xattrs from the nearest lower
/// layer where that path — resolved inside that layer — is a directory. A non-directory there
/// ends the search; with no such layer it stays `0755 root:root`.
///
/// The parallel unpack extracts a layer before its parents are committed, so the applier only
/// records these directories (``LayerApplyResult/implicitDirectories``) and this runs once the
/// lower layers exist.
public enum ParentFixups {
    /// Fixes `directories` (relative paths) in `upper` from `lowers`, nearest first.
    public static func apply(_ directories: [String], in upper: FilePath, lowers: [FilePath]) throws(SystemCallError) {
        guard !directories.isEmpty, !lowers.isEmpty else { return }
        let upperTree = try ContainedTree(root: upper)
        let lowerTrees = try lowers.map { (lower) throws(SystemCallError) in try ContainedTree(root: lower) }
        for path in directories {
            guard let source = try nearestDirectory(path, in: lowerTrees) else { continue }
            let sourceHandle = OwnedDescriptor(taking: source)
            let status = try sourceHandle.descriptor.status(path: path)
            let xattrs = try sourceHandle.descriptor.extendedAttributes(path: path).filter { !$0.key.hasPrefix("trusted.") }
            let target = OwnedDescriptor(taking: try upperTree.root.descriptor.openInRoot(
                path, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW))
            try target.descriptor.changeOwner(uid: status.uid, gid: status.gid, path: path)
            for (key, value) in xattrs {
                try target.descriptor.setExtendedAttribute(key, value: value, path: path)
            }
            try target.descriptor.changeMode(status.mode & 0o7777, path: path)
            try target.descriptor.setTimes(FileTimes(access: status.accessTime, modification: status.modificationTime), path: path)
        }
    }

    private static func nearestDirectory(_ path: String, in lowers: [ContainedTree]) throws(SystemCallError) -> FileDescriptor? {
        for lower in lowers {
            do throws(SystemCallError) {
                return try lower.root.descriptor.openInRoot(path, flags: O_RDONLY | O_DIRECTORY)
            } catch where error.errno == .noSuchFileOrDirectory {
                continue
            } catch where error.errno == .notDirectory {
                return nil
            }
        }
        return nil
    }
}
