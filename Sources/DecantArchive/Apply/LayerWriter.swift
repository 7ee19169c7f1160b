import CDecantShim
import DecantIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Writes one layer's entries into its directory, the way containerd's `archive.Apply` does
/// (see `../shared/CONTAINERD-APPLY.md`), on the applying thread.
final class LayerWriter {
    let tree: ContainedTree
    let whiteouts: WhiteoutMode
    let sink: any RegularFileSink

    var counts = LayerApplyResult.EntryCounts()
    private(set) var fileBytes: Int64 = 0
    var usage = LayerApplyResult.DiskUsage()
    private(set) var implicitDirectories: [String] = []
    /// Directories' times, applied after the whole layer so that creating their children does not
    /// move them.
    private var directoryTimes: [(path: String, times: FileTimes)] = []
    /// Paths this layer created, for the naive opaque conversion (which keeps them).
    var unpacked: Set<String> = []

    init(tree: ContainedTree, whiteouts: WhiteoutMode, sink: any RegularFileSink) {
        self.tree = tree
        self.whiteouts = whiteouts
        self.sink = sink
    }

    /// Applies one entry; reads its data from `reader` when it has any.
    func apply(_ entry: TarEntry, from reader: TarReader) throws {
        counts.total += 1
        switch entry.kind {
        case .globalHeader:
            counts.skipped += 1
            return
        case .unsupported(let typeflag):
            throw UnsupportedEntry("unsupported entry type \(Self.describe(typeflag))")
        default:
            break
        }
        let path = ContainedTree.clean(entry.name)
        // An entry that resolves to the root never changes the root's own metadata.
        guard !path.isEmpty else {
            counts.skipped += 1
            return
        }
        let (parentPath, name) = Self.split(path)
        let parent = try tree.directory(parentPath, createMissing: true) { implicitDirectories.append($0); usage.inodes += 1; usage.bytes += 4096 }

        if name.hasPrefix(".wh.") {
            if name == ".wh..wh..opq" {
                try applyOpaque(directory: parentPath)
            } else {
                let target = String(name.dropFirst(4))
                guard !["", ".", ".."].contains(target) else {
                    throw InvalidWhiteout(name: name)
                }
                try applyWhiteout(of: target, in: parent, parentPath: parentPath, entry: entry)
            }
            return
        }

        switch entry.kind {
        case .directory:
            try makeDirectory(name, in: parent, path: path, entry: entry)
        case .regular:
            try makeRegularFile(name, in: parent, path: path, entry: entry, reader: reader)
        case .symlink:
            try replacingExisting(name, in: parent, path: path) { () throws(SystemCallError) in
                try parent.makeSymlink(name, target: entry.linkName)
            }
            try applyMetadata(name, in: parent, path: path, entry: entry, chmod: false)
            counts.symlinks += 1
            usage.inodes += 1
        case .hardlink:
            let targetPath = ContainedTree.clean(entry.linkName)
            let (targetParentPath, targetName) = Self.split(targetPath)
            let targetParent = try tree.directory(targetParentPath, createMissing: false)
            try replacingExisting(name, in: parent, path: path) { () throws(SystemCallError) in
                // The root itself cannot be linked; linkat says so with the errno containerd reports.
                if targetName.isEmpty { throw SystemCallError("linkat", path: path, errno: .notPermitted) }
                try parent.makeHardlink(name, to: targetName, in: targetParent)
            }
            // containerd applies the link entry's owner, xattrs and times to the shared inode, but
            // not its mode (it checks the link name against its own working directory, which fails).
            try applyMetadata(name, in: parent, path: path, entry: entry, chmod: false)
            counts.hardlinks += 1
        case .characterDevice, .blockDevice, .fifo:
            let type: mode_t = switch entry.kind {
            case .characterDevice: S_IFCHR
            case .blockDevice: S_IFBLK
            default: S_IFIFO
            }
            let device = decant_makedev(UInt32(truncatingIfNeeded: entry.deviceMajor),
                                        UInt32(truncatingIfNeeded: entry.deviceMinor))
            try replacingExisting(name, in: parent, path: path) { () throws(SystemCallError) in
                try parent.makeNode(name, mode: type | mode_t(entry.mode), device: device)
            }
            try applyMetadata(name, in: parent, path: path, entry: entry, chmod: true)
            if entry.kind == .fifo { counts.fifos += 1 } else { counts.devices += 1 }
            usage.inodes += 1
        case .globalHeader, .unsupported:
            preconditionFailure("handled above")
        }
        if whiteouts == .naive { unpacked.insert(path) }
    }

    /// Finishes the layer: waits for queued file writes, then sets directory times.
    func finish() throws(SystemCallError) {
        try sink.drain()
        usage.bytes += sink.allocatedBytes
        for (path, times) in directoryTimes {
            let (parentPath, name) = Self.split(path)
            let parent = try tree.directory(parentPath, createMissing: false)
            try parent.setTimes(of: name, times)
        }
    }

    // MARK: Entry kinds

    private func makeDirectory(_ name: String, in parent: FileDescriptor, path: String, entry: TarEntry) throws {
        do {
            try parent.makeDirectory(name, mode: 0o700)
            usage.inodes += 1
            usage.bytes += 4096
        } catch where error.errno == .fileExists {
            if try parent.status(of: name)?.isDirectory != true {
                try removeExisting(name, in: parent, path: path)
                try parent.makeDirectory(name, mode: 0o700)
                usage.inodes += 1
                usage.bytes += 4096
            }
        }
        let directory = OwnedDescriptor(taking: try parent.openEntry(name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW))
        try directory.descriptor.changeOwner(uid: Self.id(entry.uid), gid: Self.id(entry.gid), path: path)
        try applyXattrs(entry, path: path, isRegularOrDirectory: true, on: .open(directory.descriptor))
        try directory.descriptor.changeMode(mode_t(entry.mode), path: path)
        directoryTimes.append((path, Self.times(entry)))
        counts.directories += 1
    }

    private func makeRegularFile(_ name: String, in parent: FileDescriptor, path: String, entry: TarEntry,
                                 reader: TarReader) throws {
        var descriptor: FileDescriptor?
        try replacingExisting(name, in: parent, path: path) { () throws(SystemCallError) in
            descriptor = try parent.openEntry(name, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600)
        }
        let file = OpenFile(path: path, descriptor: OwnedDescriptor(taking: descriptor!))
        try reader.readData { bytes in try sink.write(bytes, to: file) }
        let handle = file.descriptor!.descriptor
        try handle.changeOwner(uid: Self.id(entry.uid), gid: Self.id(entry.gid), path: path)
        try applyXattrs(entry, path: path, isRegularOrDirectory: true, on: .open(handle))
        file.mode = mode_t(entry.mode)
        file.times = Self.times(entry)
        try sink.finish(file)
        counts.regularFiles += 1
        fileBytes += entry.size
        usage.inodes += 1
    }

    /// Owner, xattrs, mode and times of an entry that is not open, in containerd's order: the
    /// owner first because `chown` clears setuid bits that `chmod` then sets.
    private func applyMetadata(_ name: String, in parent: FileDescriptor, path: String, entry: TarEntry,
                               chmod: Bool) throws {
        try parent.changeOwner(of: name, uid: Self.id(entry.uid), gid: Self.id(entry.gid))
        var isRegularOrDirectory = false
        if entry.kind == .hardlink, let status = try parent.status(of: name) {
            isRegularOrDirectory = status.isRegular || status.isDirectory
        }
        try applyXattrs(entry, path: path, isRegularOrDirectory: isRegularOrDirectory, on: .entry(parent, name))
        if chmod { try parent.changeMode(of: name, mode: mode_t(entry.mode)) }
        try parent.setTimes(of: name, Self.times(entry))
    }

    /// Sets the entry's `SCHILY.xattr.*` records. `trusted.*` is never taken from an archive (it
    /// would let a layer forge overlay markers); like containerd, `user.*` on a file type that
    /// cannot hold it and attributes the filesystem does not support are skipped.
    private func applyXattrs(_ entry: TarEntry, path: String, isRegularOrDirectory: Bool,
                             on target: XattrTarget) throws(SystemCallError) {
        for (key, value) in entry.xattrs where !key.hasPrefix("trusted.") {
            do throws(SystemCallError) {
                switch target {
                case .open(let descriptor): try descriptor.setExtendedAttribute(key, value: value, path: path)
                case .entry(let parent, let name): try parent.setExtendedAttribute(of: name, key, value: value)
                }
            } catch where error.errno == .notSupported
                || (error.errno == .notPermitted && key.hasPrefix("user.") && !isRegularOrDirectory)
            {
                continue
            }
        }
    }

    /// Where extended attributes go: an open file or directory, or an entry that cannot be opened
    /// (symlinks, device nodes).
    enum XattrTarget {
        case open(FileDescriptor)
        case entry(FileDescriptor, String)
    }

    // MARK: Replacing what is there

    /// Runs `create`; when the name exists, removes what is there (containerd never merges
    /// anything but two directories) and runs it again.
    private func replacingExisting(_ name: String, in parent: FileDescriptor, path: String,
                                   _ create: () throws(SystemCallError) -> Void) throws(SystemCallError) {
        do {
            try create()
        } catch where error.errno == .fileExists {
            try removeExisting(name, in: parent, path: path)
            try create()
        }
    }

    func removeExisting(_ name: String, in parent: FileDescriptor, path: String) throws(SystemCallError) {
        let removed = try parent.removeTree(name, path: path)
        usage.bytes -= removed.bytes
        usage.inodes -= removed.inodes
        // A removed directory or symlink may be where a cached path led.
        tree.invalidate()
    }

    // MARK: Helpers

    /// Splits a cleaned path into its parent and last component.
    static func split(_ path: String) -> (parent: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    /// Go hands ids to the kernel as machine integers, which keeps their low 32 bits.
    static func id(_ value: Int64) -> UInt32 { UInt32(truncatingIfNeeded: value) }

    /// containerd's times: atime is the later of atime and mtime, and anything outside
    /// 1970…2262 becomes the epoch.
    static func times(_ entry: TarEntry) -> FileTimes {
        let modification = entry.modificationTime
        let access = max(entry.accessTime ?? modification, modification)
        return FileTimes(access: bounded(access), modification: bounded(modification))
    }

    private static func bounded(_ time: TarTime) -> timespec {
        let maximum = TarTime(seconds: 9_223_372_036, nanoseconds: 854_775_807)
        if time < TarTime(seconds: 0) || time > maximum { return timespec(tv_sec: 0, tv_nsec: 0) }
        return timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))
    }

    private static func describe(_ typeflag: UInt8) -> String {
        let letter = (0x20..<0x7F).contains(typeflag) ? "'\(Character(Unicode.Scalar(typeflag)))'" : "\(typeflag)"
        switch typeflag {
        case UInt8(ascii: "S"): return "\(letter) (GNU sparse file)"
        case UInt8(ascii: "D"): return "\(letter) (GNU dumpdir)"
        case UInt8(ascii: "7"): return "\(letter) (contiguous file)"
        case UInt8(ascii: "M"): return "\(letter) (GNU multi-volume continuation)"
        case UInt8(ascii: "V"): return "\(letter) (GNU volume header)"
        default: return letter
        }
    }
}

/// A whiteout whose target would leave its directory.
struct InvalidWhiteout: Error {
    var name: String
}
