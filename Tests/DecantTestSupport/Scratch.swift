import DecantIO
import Foundation
import SystemPackage

/// A fresh directory under /var/tmp (on the same ext4 filesystem as the tests' trees, not a tmpfs,
/// so xattrs and device nodes behave as in production), removed when the test ends.
public final class Scratch {
    public let url: URL

    public init(_ label: String = "test") throws {
        let base = URL(fileURLWithPath: "/var/tmp/decant-tests", isDirectory: true)
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        url = base.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A new empty subdirectory, mode 0755 like a snapshot's `fs` directory.
    public func directory(_ name: String) throws -> URL {
        let child = url.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: child, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        return child
    }

    deinit {
        // Relative to descriptors, as decant removes snapshots: some tests make trees deeper than
        // any path can name, which FileManager cannot remove.
        if let parent = try? FileDescriptor.openDirectory(FilePath(url.deletingLastPathComponent().path)) {
            _ = try? parent.removeTree(url.lastPathComponent, path: url.path)
            try? parent.close()
        }
    }
}
