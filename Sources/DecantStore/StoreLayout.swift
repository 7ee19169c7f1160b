import DecantIO
import Foundation
import SystemPackage

/// Where everything lives under a store root (`/var/lib/decant` by default):
///
/// ```
/// metadata.db                    SQLite, WAL
/// events.log, events.log.1       what pulls did, as JSON lines (the second: the one before)
/// gc.lock                        held by a garbage collection, and shortly by pulls (flock)
/// leases/<id>                    held (flock) by the process a lease belongs to, while it runs
/// content/blobs/sha256/<hex>     blobs by digest
/// content/ingest/<ref hash>/     partial writes, resumable
/// snapshots/overlay/<id>/fs      upper dir (and <id>/work while active)
/// snapshots/native/<id>/fs       full tree
/// ```
public struct StoreLayout: Sendable {
    /// The default root, as containerd's is `/var/lib/containerd`.
    public static let defaultRoot = "/var/lib/decant"

    /// Absolute: the paths a store hands out (snapshot directories, mount options) must mean
    /// the same thing from any working directory.
    public let root: String

    /// `root` relative to the working directory is made absolute.
    public init(root: String) {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
    }

    /// `--root`, else `DECANT_ROOT`, else the default.
    public static func resolve(_ option: String?) -> StoreLayout {
        StoreLayout(root: option ?? ProcessInfo.processInfo.environment["DECANT_ROOT"] ?? defaultRoot)
    }

    public var database: String { root + "/metadata.db" }
    /// See ``CollectionLock``.
    public var collectionLock: String { root + "/gc.lock" }
    /// See ``HeldLease``.
    public var leaseHolders: String { root + "/leases" }
    public var blobs: String { root + "/content/blobs/sha256" }
    public var ingests: String { root + "/content/ingest" }
    /// The store's event log, which `decant pull` appends to and `decant events` prints.
    public var eventLog: String { root + "/events.log" }
    /// The event log before the last rotation.
    public var previousEventLog: String { eventLog + ".1" }

    public func blob(_ encoded: String) -> String { blobs + "/" + encoded }
    public func snapshots(_ snapshotter: String) -> String { root + "/snapshots/" + snapshotter }

    /// Creates the directories that must exist before anything is written.
    func create() throws {
        for directory in [root, leaseHolders, blobs, ingests, snapshots("overlay"), snapshots("native")] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o711])
        }
        // Each snapshot's tree in a block group of its own. Next to their parent, the trees of
        // layers extracted at once share the groups' locks, and after a big `rm -rf` they land in
        // the groups just freed, where ext4 checks every recently deleted inode one by one
        // (recently_deleted): measured at half of a many-files pull's CPU. Advisory: a file
        // system without the flag works as before.
        for directory in [snapshots("overlay"), snapshots("native")] {
            guard let handle = try? OwnedDescriptor(taking: FileDescriptor.openDirectory(FilePath(directory))) else { continue }
            try? handle.descriptor.markTopDirectory(path: directory)
        }
    }
}
