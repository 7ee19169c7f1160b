import Foundation

/// containerd's `snapshots.Snapshotter`: keyed, parent-chained filesystem snapshots.
///
/// An active snapshot (from ``prepare(_:parent:labels:)``) is writable; ``commit(name:key:parent:labels:usage:)``
/// freezes it under a name that children can use as their parent; a view is a read-only active
/// snapshot. A committed snapshot with children cannot be removed.
public protocol Snapshotter: Sendable {
    /// `overlayfs` or `native`, as in containerd and in GC labels.
    var name: String { get }

    func stat(_ key: String) throws(StoreError) -> SnapshotInfo
    func update(_ key: String, labels: [String: String], fieldPaths: [String]) throws(StoreError) -> SnapshotInfo
    /// Bytes and inodes: recorded at commit for committed snapshots, counted now for active ones.
    func usage(_ key: String) throws(StoreError) -> SnapshotUsage
    /// How to mount an active snapshot or a view.
    func mounts(_ key: String) throws(StoreError) -> [Mount]
    /// A new writable snapshot on top of the committed `parent` (or empty). With the label
    /// `containerd.io/snapshot.ref=NAME` it fails with `alreadyExists` when NAME is already
    /// committed: how shared layers are skipped.
    func prepare(_ key: String, parent: String?, labels: [String: String]) throws(StoreError) -> [Mount]
    /// A read-only snapshot of the committed `parent`.
    func view(_ key: String, parent: String?, labels: [String: String]) throws(StoreError) -> [Mount]
    /// Freezes the active snapshot `key` as `name`. A snapshot prepared without a parent may be
    /// given one here (containerd 2.2's rebase, which parallel unpacking relies on). `usage`, when
    /// the caller counted it while writing, saves a walk of the tree.
    func commit(name: String, key: String, parent: String?, labels: [String: String], usage: SnapshotUsage?) throws(StoreError)
    /// Removes a snapshot that has no children.
    func remove(_ key: String) throws(StoreError)
    /// Removes an active snapshot or view whose files nobody wants any more (a failed pull's):
    /// the files go first, then the row. On a full disk the database write that deletes the row
    /// needs the space those files held. Should the write fail all the same, the row is left
    /// pointing at no directory, which ``remove(_:)`` (and so gc) clears later.
    func discard(_ key: String) throws(StoreError)
    /// Every snapshot matching `filters` (fields `name`, `parent`, `kind`, `labels.KEY`).
    func walk(filters: [Filter]) throws(StoreError) -> [SnapshotInfo]
    /// The directory an active snapshot's changes are written to: the overlay upper dir, or the
    /// native snapshot's full tree.
    func directory(_ key: String) throws(StoreError) -> String
    /// Removes directories no snapshot points to (left by a crash); returns what it removed.
    func cleanup() throws(StoreError) -> [String]
    /// Removes what removals that a crash or an error stopped left: directories moved aside to be
    /// deleted, which no snapshot points to whatever else is going on; returns what it removed.
    func removeInterruptedRemovals() -> [String]
}

/// The three kinds of snapshot.
public enum SnapshotKind: String, Sendable, Codable {
    case active
    case view
    case committed
}

public struct SnapshotInfo: Sendable, Codable, Equatable {
    /// The key of an active snapshot or view, the name of a committed one.
    public var name: String
    public var kind: SnapshotKind
    public var parent: String?
    public var labels: [String: String]
    public var createdAt: Date
    public var updatedAt: Date
}

public struct SnapshotUsage: Sendable, Codable, Equatable {
    public var size: Int64
    public var inodes: Int64

    public init(size: Int64, inodes: Int64) {
        self.size = size
        self.inodes = inodes
    }
}

/// A mount as containerd describes one: `mount -t TYPE SOURCE TARGET -o OPTIONS`.
public struct Mount: Sendable, Codable, Equatable {
    public var type: String
    public var source: String
    public var options: [String]

    public init(type: String, source: String, options: [String]) {
        self.type = type
        self.source = source
        self.options = options
    }
}

/// The label that asks ``Snapshotter/prepare(_:parent:labels:)`` to answer `alreadyExists` when
/// the named snapshot is committed.
public let snapshotReferenceLabel = "containerd.io/snapshot.ref"
