import DecantIO
import Foundation
import SystemPackage

/// What the overlay and native snapshotters share: metadata through ``SnapshotCatalog``, one
/// directory per snapshot under `snapshots/<name>/<id>`. They differ in how a tree is made and
/// mounted.
protocol DirectorySnapshotter: Snapshotter {
    var catalog: SnapshotCatalog { get }
    /// `snapshots/<name>`.
    var home: String { get }
    /// Creates the directories of a new snapshot whose ancestors are `ancestors` (nearest first).
    func makeTree(_ record: SnapshotRecord, ancestors: [SnapshotRecord]) throws
    func mounts(_ record: SnapshotRecord, ancestors: [SnapshotRecord]) -> [Mount]
    /// The directory holding the snapshot's own changes (or whole tree).
    func tree(_ id: Int64) -> String
    /// Tidies a snapshot that was just committed (the overlay work dir is no longer needed).
    func committed(_ record: SnapshotRecord)
}

extension DirectorySnapshotter {
    func snapshotDirectory(_ id: Int64) -> String { home + "/" + String(id) }

    public func stat(_ key: String) throws(StoreError) -> SnapshotInfo {
        SnapshotCatalog.info(try catalog.record(key))
    }

    public func update(_ key: String, labels: [String: String], fieldPaths: [String]) throws(StoreError) -> SnapshotInfo {
        SnapshotCatalog.info(try catalog.update(key, labels: labels, fieldPaths: fieldPaths))
    }

    public func usage(_ key: String) throws(StoreError) -> SnapshotUsage {
        let record = try catalog.record(key)
        if record.kind == SnapshotKind.committed.rawValue {
            return SnapshotUsage(size: record.usageSize, inodes: record.usageInodes)
        }
        return DiskUsage.measure(tree(record.id!))
    }

    public func mounts(_ key: String) throws(StoreError) -> [Mount] {
        let (record, ancestors) = try catalog.metadata.read { db in
            let record = try catalog.record(key, db)
            return (record, try catalog.ancestors(of: record, db))
        }
        guard record.kind != SnapshotKind.committed.rawValue else {
            throw StoreError(.failedPrecondition, "snapshot \(key) is committed: mount a view of it, or prepare a child")
        }
        return mounts(record, ancestors: ancestors)
    }

    public func prepare(_ key: String, parent: String?, labels: [String: String]) throws(StoreError) -> [Mount] {
        try create(key, parent: parent, kind: .active, labels: labels)
    }

    public func view(_ key: String, parent: String?, labels: [String: String]) throws(StoreError) -> [Mount] {
        try create(key, parent: parent, kind: .view, labels: labels)
    }

    private func create(_ key: String, parent: String?, kind: SnapshotKind, labels: [String: String]) throws(StoreError) -> [Mount] {
        let (record, ancestors) = try catalog.create(key, parent: parent, kind: kind, labels: labels) { record, ancestors in
            // Only a crash's leftover can be there: earlier versions made the directory before
            // the row was committed.
            try removeFromHome(String(record.id!))
            do {
                try makeTree(record, ancestors: ancestors)
            } catch {
                try? removeFromHome(String(record.id!))
                throw StoreError(.io, "cannot create the directories of snapshot \(key)", describing: error)
            }
        }
        return mounts(record, ancestors: ancestors)
    }

    public func commit(name: String, key: String, parent: String?, labels: [String: String], usage: SnapshotUsage?) throws(StoreError) {
        let record = try catalog.commit(name: name, key: key, parent: parent, labels: labels) { record in
            usage ?? DiskUsage.measure(tree(record.id!))
        }
        committed(record)
    }

    public func remove(_ key: String) throws(StoreError) {
        let record = try catalog.remove(key)
        // The row is gone, so the directory is unreachable.
        removeDirectory(record.id!)
    }

    public func discard(_ key: String) throws(StoreError) {
        let record = try catalog.record(key)
        guard record.kind != SnapshotKind.committed.rawValue else {
            throw StoreError(.failedPrecondition, "snapshot \(key) is committed: remove it instead of discarding it")
        }
        removeDirectory(record.id!)
        _ = try catalog.remove(key)
    }

    public func removeInterruptedRemovals() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: home)) ?? []
        var removed: [String] = []
        for name in names.sorted() where name.hasPrefix("removing-") || name.hasPrefix(".decant-removing-") {
            if (try? removeFromHome(name)) != nil { removed.append(home + "/" + name) }
        }
        return removed
    }

    /// Moves a snapshot's directory aside at once (a crash leaves no half-deleted tree under the
    /// snapshot's id), then deletes it.
    private func removeDirectory(_ id: Int64) {
        let doomed = "removing-" + String(id)
        if rename(snapshotDirectory(id), home + "/" + doomed) == 0 {
            try? removeFromHome(doomed)
        } else {
            try? removeFromHome(String(id))
        }
    }

    /// Removes `name` in ``home`` and everything below it, however deep: a layer can make a tree
    /// whose paths are longer than `PATH_MAX`, which removals by path cannot reach.
    private func removeFromHome(_ name: String) throws(SystemCallError) {
        let directory = OwnedDescriptor(taking: try FileDescriptor.openDirectory(FilePath(home)))
        try directory.descriptor.removeTree(name, path: home + "/" + name)
    }

    public func walk(filters: [Filter]) throws(StoreError) -> [SnapshotInfo] {
        try catalog.all().map(SnapshotCatalog.info).filter { Filter.matches(filters, SnapshotCatalog.fields($0)) }
    }

    public func directory(_ key: String) throws(StoreError) -> String {
        tree(try catalog.record(key).id!)
    }

    public func cleanup() throws(StoreError) -> [String] {
        // Listed before the catalog is read: a snapshot's row is inserted before its directory
        // is made, so a directory listed here whose row is missing below has none.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: home)) ?? []
        let known = Set(try catalog.all().compactMap { $0.id.map(String.init) })
        var removed: [String] = []
        for name in names.sorted() where !known.contains(name) {
            if (try? removeFromHome(name)) != nil { removed.append(home + "/" + name) }
        }
        return removed
    }
}
