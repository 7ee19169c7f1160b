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
    /// Directories created because an entry needed them, until a header of their own arrives or
    /// they are removed.
    private(set) var implicitDirectories: [String] = []
    /// Directories' times, applied after the whole layer so that creating their children does not
    /// move them.
    private var directoryTimes: [(path: String, times: FileTimes)] = []
    /// Paths this layer created, for the naive opaque conversion (which keeps them).
    var unpacked: Set<String> = []
    /// The directory of the entry being applied, held here so that dropping the tree's cache
    /// (after a removal) cannot close it mid-entry.
    private var parentHandle: OwnedDescriptor?
    /// Who owns a file this process creates.
    private let creator = (uid: geteuid(), gid: getegid())

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
        let handle = try tree.directory(parentPath, createMissing: true) { created in
            implicitDirectories.append(created)
            usage.inodes += 1
            usage.bytes += 4096
        }
        parentHandle = handle
        let parent = handle.descriptor

        if name.hasPrefix(".wh.") {
            if name == ".wh..wh..opq" {
                try applyOpaque(directory: parentPath)
            } else {
                let target = String(name.dropFirst(4))
                guard !["", ".", ".."].contains(target) else { throw InvalidWhiteout(name: name) }
                try applyWhiteout(of: target, in: parent, parentPath: parentPath, entry: entry)
            }
            return
        }

        let metadata = EntryMetadata(entry)
        switch entry.kind {
        case .directory:
            try makeDirectory(name, in: parent, path: path, metadata: metadata)
        case .regular:
            try makeRegularFile(name, in: parent, path: path, size: entry.size, metadata: metadata, reader: reader)
            fileBytes += entry.size
        case .symlink:
            try replacingExisting(name, in: parent, path: path) { () throws(SystemCallError) in
                try parent.makeSymlink(name, target: entry.linkName)
            }
            try applyMetadata(metadata, to: name, in: parent, path: path)
            counts.symlinks += 1
            usage.inodes += 1
        case .hardlink:
            try makeHardlink(name, in: parent, path: path, target: entry.linkName)
            try applyMetadata(metadata, to: name, in: parent, path: path)
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
                try parent.makeNode(name, mode: type | metadata.mode, device: device)
            }
            try applyMetadata(metadata, to: name, in: parent, path: path)
            if entry.kind == .fifo { counts.fifos += 1 } else { counts.devices += 1 }
            usage.inodes += 1
        case .globalHeader, .unsupported:
            preconditionFailure("handled above")
        }
        if whiteouts == .naive { unpacked.insert(path) }
    }

    /// Finishes the layer: waits for queued file writes, then sets directory times.
    func finish() throws {
        try sink.drain()
        usage.bytes += sink.allocatedBytes
        for (path, times) in directoryTimes {
            do throws(SystemCallError) {
                let (parentPath, name) = Self.split(path)
                let parent = try tree.directory(parentPath, createMissing: false)
                try parent.descriptor.setTimes(of: name, times)
            } catch {
                throw DirectoryTimesFailure(directory: path, cause: error)
            }
        }
    }

    // MARK: Entry kinds

    private func makeDirectory(_ name: String, in parent: FileDescriptor, path: String,
                               metadata: EntryMetadata) throws(SystemCallError) {
        let mode = directoryCreationMode(metadata)
        do throws(SystemCallError) {
            try parent.makeDirectory(name, mode: mode)
            usage.inodes += 1
            usage.bytes += 4096
        } catch where error.errno == .fileExists {
            // Two directories merge; anything else in the way is replaced.
            if try parent.status(of: name)?.isDirectory != true {
                try removeExisting(name, in: parent, path: path)
                try parent.makeDirectory(name, mode: mode)
                usage.inodes += 1
                usage.bytes += 4096
            }
        }
        // A header of its own makes an implicitly created directory an ordinary one.
        if !implicitDirectories.isEmpty { implicitDirectories.removeAll { $0 == path } }
        let directory = OwnedDescriptor(taking: try parent.openEntry(name, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW))
        // One fstat instead of a chown and a chmod that would change nothing, for most directories;
        // the status also tells what the umask or a setgid parent made of the mode and group.
        let status = try directory.descriptor.status(path: path)
        try metadata.apply(to: directory.descriptor, path: path, settingTimes: false, current: status)
        // The directory's entries usually follow: resolving it again would cost an openat2.
        tree.adopt(directory, as: path)
        directoryTimes.append((path, metadata.times))
        counts.directories += 1
    }

    /// A directory that will keep the owner it is created with gets its permission bits right
    /// away, so that most directories need no chmod; its owner can always list and write it
    /// meanwhile, so that the open for its metadata and its entries' creation work without
    /// privileges. Any other directory stays private to its creator until its owner is set.
    private func directoryCreationMode(_ metadata: EntryMetadata) -> mode_t {
        metadata.uid == creator.uid && metadata.gid == creator.gid ? (metadata.mode & 0o777) | 0o700 : 0o700
    }

    /// A file that will keep the owner it is created with gets its permission bits right away
    /// (less the umask), so that most files need no chmod once written. Any other file stays
    /// private to its creator until its owner is set. setuid, setgid and sticky come last in
    /// either case, after the data and the owner.
    private func creationMode(_ metadata: EntryMetadata) -> mode_t {
        metadata.uid == creator.uid && metadata.gid == creator.gid ? metadata.mode & 0o777 : 0o600
    }

    private func makeRegularFile(_ name: String, in parent: FileDescriptor, path: String, size: Int64, metadata: EntryMetadata,
                                 reader: TarReader) throws {
        var descriptor: FileDescriptor?
        try replacingExisting(name, in: parent, path: path) { () throws(SystemCallError) in
            descriptor = try parent.openEntry(name, flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
                                              mode: creationMode(metadata))
        }
        let file = OpenFile(path: path, descriptor: OwnedDescriptor(taking: descriptor!), size: size, metadata: metadata)
        try reader.readData { bytes in try sink.write(bytes, to: file) }
        try sink.finish(file)
        counts.regularFiles += 1
        usage.inodes += 1
    }

    /// Links `target` (resolved inside the tree, its last component not followed) under `name`.
    private func makeHardlink(_ name: String, in parent: FileDescriptor, path: String, target: String) throws {
        // The target may still wait for its metadata in an asynchronous sink; containerd applied
        // it before the link's own, which may change the same inode.
        try sink.drain()
        do {
            try link(name, in: parent, path: path, target: target)
        } catch where error.errno == .noSuchFileOrDirectory {
            // An overlay layer sees only its own upper dir, so a target in a lower layer is missing
            // here as well: containerd fails the same way.
            throw MissingHardlinkTarget(target: target, cause: error)
        }
    }

    private func link(_ name: String, in parent: FileDescriptor, path: String, target: String) throws(SystemCallError) {
        let (targetParentPath, targetName) = Self.split(ContainedTree.clean(target))
        // The root itself cannot be linked; linkat says so with the errno containerd reports.
        if targetName.isEmpty { throw SystemCallError("linkat", path: path, errno: .notPermitted) }
        let targetParent = try tree.directory(targetParentPath, createMissing: false)
        do throws(SystemCallError) {
            try parent.makeHardlink(name, to: targetName, in: targetParent.descriptor)
        } catch where error.errno == .fileExists {
            try removeExisting(name, in: parent, path: path)
            try parent.makeHardlink(name, to: targetName, in: targetParent.descriptor)
        }
    }

    /// Metadata of an entry that is not open. A hardlink's header applies to the shared inode, its
    /// mode too unless the inode is a symlink (containerd's `handleLChmod`).
    private func applyMetadata(_ metadata: EntryMetadata, to name: String, in parent: FileDescriptor,
                               path: String) throws(SystemCallError) {
        guard let status = try parent.status(of: name) else {
            throw SystemCallError("fstatat", path: path, errno: .noSuchFileOrDirectory)
        }
        try metadata.apply(toEntry: name, in: parent, path: path, status: status)
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
        if !implicitDirectories.isEmpty {
            implicitDirectories.removeAll { $0 == path || $0.hasPrefix(path + "/") }
        }
        // A removed directory or symlink may be where a cached path led.
        tree.invalidate()
    }

    // MARK: Helpers

    /// Splits a cleaned path into its parent and last component.
    static func split(_ path: String) -> (parent: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
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

/// A hardlink whose target is not in the layer's directory.
struct MissingHardlinkTarget: Error {
    var target: String
    var cause: SystemCallError
}

/// A directory whose times could not be set once the layer's last entry was written (the
/// entry being read then is none of its business).
struct DirectoryTimesFailure: Error {
    var directory: String
    var cause: SystemCallError
}

/// A whiteout whose target would leave its directory.
struct InvalidWhiteout: Error {
    var name: String
}
