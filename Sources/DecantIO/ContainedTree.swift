import CDecantShim
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A directory tree that nothing written through it can leave.
///
/// Parent directories are resolved by the kernel inside the root (`openat2` with
/// `RESOLVE_IN_ROOT`): `..` stops at the root, absolute symlinks restart at the root, so `../x`,
/// `/x` and `link→/` followed by `link/x` all land inside it, as containerd's `fs.RootPath`
/// confines them. Entries are then created with `*at` calls on the resolved directory, which never
/// follow the last component.
///
/// Resolved directories are cached by path, because a layer's entries arrive grouped by directory.
/// The cache is dropped whenever the caller removes a directory or a symlink, the only changes that
/// can move where an already-resolved path leads. Not thread-safe: one tree per applying thread.
public final class ContainedTree {
    /// The root directory; nothing outside it is ever opened for writing.
    public let root: OwnedDescriptor
    /// The root as the caller named it, for messages.
    public let rootPath: FilePath

    private var cache: [String: OwnedDescriptor] = [:]
    private static let cacheLimit = 512
    /// Linux's own limit for symlinks followed in one lookup, which containerd uses too.
    private static let symlinkLimit = 255

    /// Where the root really is, symlinks resolved, to name created directories by their real path.
    private let resolvedRoot: String

    /// Opens `path`, which must be an existing directory.
    public init(root path: FilePath) throws(SystemCallError) {
        self.root = OwnedDescriptor(taking: try FileDescriptor.openDirectory(path))
        self.rootPath = path
        self.resolvedRoot = try Self.resolvedPath(of: root.descriptor)
    }

    /// The directory at `path` (components joined by `/`, relative to the root, `""` for the root
    /// itself), resolved inside the root.
    ///
    /// Missing components are created `0755` owned by `0:0`, as containerd's `MkdirAll` does, and
    /// each is passed to `created` — unless `createMissing` is false, when a missing component is
    /// `ENOENT`. A dangling symlink on the way is followed to where it points inside the root, and
    /// that is what gets created.
    ///
    /// The caller holds the returned descriptor for as long as it uses it: ``invalidate()`` may
    /// drop the cache's reference meanwhile.
    public func directory(
        _ path: String, createMissing: Bool, created: (String) -> Void = { _ in }
    ) throws(SystemCallError) -> OwnedDescriptor {
        if path.isEmpty { return root }
        if let hit = cache[path] { return hit }
        var current = path
        for _ in 0...Self.symlinkLimit {
            do throws(SystemCallError) {
                return remember(path, try root.descriptor.openInRoot(current, flags: DECANT_O_PATH | O_DIRECTORY))
            } catch where error.errno == .noSuchFileOrDirectory && createMissing {
                switch try createComponents(of: current, created: created) {
                case .created(let descriptor): return remember(path, descriptor)
                case .followSymlink(let target): current = target
                }
            }
        }
        throw SystemCallError("openat2", path: path, errno: .tooManySymbolicLinkLevels)
    }

    /// Remembers `descriptor` as the directory at `path` (cleaned, relative to the root), for a
    /// caller that has just opened it, without following its last component, in the directory
    /// this tree resolved for its parent: the same place a lookup would lead.
    public func adopt(_ descriptor: OwnedDescriptor, as path: String) {
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[path] = descriptor
    }

    /// Forgets every resolved directory: call after removing a directory or a symlink.
    public func invalidate() {
        cache.removeAll(keepingCapacity: true)
    }

    private func remember(_ path: String, _ descriptor: FileDescriptor) -> OwnedDescriptor {
        let owned = OwnedDescriptor(taking: descriptor)
        adopt(owned, as: path)
        return owned
    }

    private enum Creation {
        case created(FileDescriptor)
        /// A component was a dangling symlink: resolve this root-relative path instead.
        case followSymlink(String)
    }

    /// Walks `path` one component at a time, creating what is missing.
    private func createComponents(of path: String, created: (String) -> Void) throws(SystemCallError) -> Creation {
        let components = path.split(separator: "/").map(String.init)
        var parent = OwnedDescriptor(taking: try root.descriptor.openEntry(".", flags: DECANT_O_PATH | O_DIRECTORY))
        var prefix = ""
        for (index, component) in components.enumerated() {
            let next = prefix.isEmpty ? component : prefix + "/" + component
            do throws(SystemCallError) {
                parent = OwnedDescriptor(taking: try root.descriptor.openInRoot(next, flags: DECANT_O_PATH | O_DIRECTORY))
            } catch where error.errno == .noSuchFileOrDirectory {
                if let status = try parent.descriptor.status(of: component), status.isSymlink {
                    let target = try readSymlink(component, in: parent.descriptor, path: next)
                    let base = target.hasPrefix("/") ? "" : prefix
                    let rest = components[(index + 1)...].joined(separator: "/")
                    return .followSymlink(Self.clean([base, target, rest].joined(separator: "/")))
                }
                try parent.descriptor.makeDirectory(component, mode: 0o755)
                try parent.descriptor.changeOwner(of: component, uid: 0, gid: 0)
                try parent.descriptor.changeMode(of: component, mode: 0o755)
                // Report where it really is: a symlink on the way (inside the root) may have led
                // elsewhere than the path's spelling.
                created(try relativePath(of: parent.descriptor, child: component))
                parent = OwnedDescriptor(taking: try parent.descriptor.openEntry(
                    component, flags: DECANT_O_PATH | O_DIRECTORY | O_NOFOLLOW))
            }
            prefix = next
        }
        // The caller keeps the descriptor in its cache: hand over a duplicate it can own.
        return .created(try root.descriptor.openInRoot(prefix, flags: DECANT_O_PATH | O_DIRECTORY))
    }

    /// The path of `child` in `directory` relative to the root, from the kernel's own idea of where
    /// the directory is (`/proc/self/fd`).
    private func relativePath(of directory: FileDescriptor, child: String) throws(SystemCallError) -> String {
        let absolute = try Self.resolvedPath(of: directory)
        let relative = absolute == resolvedRoot ? "" : String(absolute.dropFirst(resolvedRoot.count + (resolvedRoot == "/" ? 0 : 1)))
        return relative.isEmpty ? child : relative + "/" + child
    }

    private static func resolvedPath(of directory: FileDescriptor) throws(SystemCallError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = try check("readlink", path: "/proc/self/fd/\(directory.rawValue)") {
            Int32(readlink("/proc/self/fd/\(directory.rawValue)", &buffer, buffer.count - 1))
        }
        return String(decoding: buffer[..<Int(count)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func readSymlink(_ name: String, in directory: FileDescriptor, path: String) throws(SystemCallError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = try check("readlinkat", path: path) {
            Int32(readlinkat(directory.rawValue, name, &buffer, buffer.count - 1))
        }
        return String(decoding: buffer[..<Int(count)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Cleans a path lexically as if it were absolute, the way `filepath.Clean("/" + path)` would,
    /// and returns it without the leading slash: `""` is the root.
    public static func clean(_ path: String) -> String {
        // Nearly every tar name is clean already, but for a leading "./" or a directory's trailing
        // "/": return it as is then, without splitting and joining it (which cost ~5 µs an entry,
        // a tenth of a small-file layer's CPU time).
        let bytes = path.utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        if bytes.starts(with: "./".utf8) { start = bytes.index(start, offsetBy: 2) }
        while end > start, bytes[bytes.index(before: end)] == UInt8(ascii: "/") { end = bytes.index(before: end) }
        if hasOnlyNamedComponents(bytes[start..<end]) { return String(path[start..<end]) }

        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }

    /// Whether `bytes` is one or more components joined by single slashes, none of them `.` or `..`.
    private static func hasOnlyNamedComponents(_ bytes: Substring.UTF8View) -> Bool {
        var length = 0
        var dots = 0
        func isNamed() -> Bool { length > 0 && !(dots == length && length <= 2) }
        for byte in bytes {
            if byte == UInt8(ascii: "/") {
                guard isNamed() else { return false }
                length = 0
                dots = 0
            } else {
                length += 1
                if byte == UInt8(ascii: ".") { dots += 1 }
            }
        }
        return isNamed()
    }
}
