import DecantIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

extension LayerWriter {
    /// `.wh.NAME`: in overlay mode a `0/0` character device owned by the whiteout's owner (an
    /// existing NAME is an error, as `mknod` makes it in containerd); in naive mode NAME and
    /// everything below it are removed.
    func applyWhiteout(of target: String, in parent: FileDescriptor, parentPath: String, entry: TarEntry) throws {
        let path = parentPath.isEmpty ? target : parentPath + "/" + target
        switch whiteouts {
        case .overlay:
            try parent.makeNode(target, mode: S_IFCHR, device: 0)
            try parent.changeOwner(of: target, uid: UInt32(truncatingIfNeeded: entry.uid), gid: UInt32(truncatingIfNeeded: entry.gid))
            usage.inodes += 1
        case .naive:
            try removeExisting(target, in: parent, path: path)
        }
        counts.whiteouts += 1
    }

    /// `.wh..wh..opq`: in overlay mode `trusted.overlay.opaque=y` on the directory; in naive mode
    /// everything in the directory that this layer did not unpack is removed.
    func applyOpaque(directory path: String) throws {
        switch whiteouts {
        case .overlay:
            let directory = OwnedDescriptor(taking: try tree.root.descriptor.openInRoot(
                path.isEmpty ? "." : path, flags: O_RDONLY | O_DIRECTORY))
            try directory.descriptor.setExtendedAttribute("trusted.overlay.opaque", value: [UInt8(ascii: "y")],
                                                          path: path.isEmpty ? "." : path)
        case .naive:
            try removeNotUnpacked(in: path)
        }
        counts.opaqueDirectories += 1
    }

    /// Removes the entries below `path` that this layer did not create, descending into the
    /// directories it did create (containerd's `filepath.Walk` over the opaque directory).
    private func removeNotUnpacked(in path: String) throws {
        let directory = OwnedDescriptor(taking: try tree.root.descriptor.openInRoot(
            path.isEmpty ? "." : path, flags: O_RDONLY | O_DIRECTORY))
        for name in try directory.descriptor.entryNames(path: path).sorted() {
            let child = path.isEmpty ? name : path + "/" + name
            if unpacked.contains(child) {
                if try directory.descriptor.status(of: name)?.isDirectory == true {
                    try removeNotUnpacked(in: child)
                }
            } else {
                try removeExisting(name, in: directory.descriptor, path: child)
            }
        }
    }
}
