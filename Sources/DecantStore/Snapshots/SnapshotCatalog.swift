import Foundation
import GRDB

/// The metadata rules every snapshotter shares: unique keys, committed parents, kinds, children,
/// labels — each change one transaction in the metadata database.
struct SnapshotCatalog: Sendable {
    let snapshotter: String
    let metadata: MetadataStore

    func record(_ key: String, _ db: Database) throws -> SnapshotRecord {
        guard let record = try SnapshotRecord.filter(Column("snapshotter") == snapshotter && Column("key") == key).fetchOne(db) else {
            throw StoreError(.notFound, "snapshot \(key) not found")
        }
        return record
    }

    func record(_ key: String) throws(StoreError) -> SnapshotRecord {
        try metadata.read { db in try record(key, db) }
    }

    /// The committed ancestors of `record`, nearest first.
    func ancestors(of record: SnapshotRecord, _ db: Database) throws -> [SnapshotRecord] {
        var chain: [SnapshotRecord] = []
        var next = record.parent
        while let key = next {
            let parent = try self.record(key, db)
            chain.append(parent)
            next = parent.parent
        }
        return chain
    }

    func children(of key: String, _ db: Database) throws -> [String] {
        try SnapshotRecord.filter(Column("snapshotter") == snapshotter && Column("parent") == key)
            .order(Column("key")).fetchAll(db).map(\.key)
    }

    /// Inserts a new active snapshot or view after checking the key and the parent, then lets
    /// `makeTree` create its directory; should that fail, the row goes again. `makeTree` runs
    /// after the transaction: the native snapshotter's copies a whole parent, and other
    /// processes' pulls, commits and collections must not wait for the database meanwhile.
    func create(_ key: String, parent: String?, kind: SnapshotKind, labels: [String: String],
                makeTree: (SnapshotRecord, [SnapshotRecord]) throws -> Void) throws(StoreError) -> (SnapshotRecord, [SnapshotRecord]) {
        guard !key.isEmpty else { throw StoreError(.invalidArgument, "snapshot key must not be empty") }
        let created = try metadata.write { db in
            if try SnapshotRecord.filter(Column("snapshotter") == snapshotter && Column("key") == key).fetchCount(db) > 0 {
                throw StoreError(.alreadyExists, "snapshot \(key) already exists")
            }
            if let target = labels[snapshotReferenceLabel],
               let existing = try SnapshotRecord.filter(Column("snapshotter") == snapshotter && Column("key") == target).fetchOne(db),
               existing.kind == SnapshotKind.committed.rawValue {
                throw StoreError(.alreadyExists, "snapshot \(target) already exists")
            }
            var ancestors: [SnapshotRecord] = []
            if let parent {
                let parentRecord = try record(parent, db)
                guard parentRecord.kind == SnapshotKind.committed.rawValue else {
                    throw StoreError(.failedPrecondition, "parent \(parent) is \(parentRecord.kind), not committed")
                }
                ancestors = [parentRecord] + (try self.ancestors(of: parentRecord, db))
            }
            let now = Date()
            var record = SnapshotRecord(id: nil, snapshotter: snapshotter, key: key, kind: kind.rawValue, parent: parent,
                                        labels: labels, createdAt: now, updatedAt: now, usageSize: 0, usageInodes: 0)
            try record.insert(db)
            return (record, ancestors)
        }
        do {
            try makeTree(created.0, created.1)
        } catch {
            _ = try? metadata.write { db in try created.0.delete(db) }
            if let error = error as? StoreError { throw error }
            throw StoreError(.io, "cannot create the directories of snapshot \(key)", describing: error)
        }
        return created
    }

    /// Turns the active `key` into the committed `name`, optionally giving it its parent now.
    func commit(name: String, key: String, parent: String?, labels: [String: String],
                usage: (SnapshotRecord) throws -> SnapshotUsage) throws(StoreError) -> SnapshotRecord {
        guard !name.isEmpty else { throw StoreError(.invalidArgument, "snapshot name must not be empty") }
        return try metadata.write { db in
            var record = try record(key, db)
            guard record.kind == SnapshotKind.active.rawValue else {
                throw StoreError(.failedPrecondition, "snapshot \(key) is \(record.kind), not active: only active snapshots can be committed")
            }
            if try SnapshotRecord.filter(Column("snapshotter") == snapshotter && Column("key") == name).fetchCount(db) > 0 {
                throw StoreError(.alreadyExists, "snapshot \(name) already exists")
            }
            if let parent, parent != record.parent {
                if let current = record.parent {
                    throw StoreError(.failedPrecondition, "snapshot \(key) already has parent \(current); cannot rebase it onto \(parent)")
                }
                let parentRecord = try self.record(parent, db)
                guard parentRecord.kind == SnapshotKind.committed.rawValue else {
                    throw StoreError(.failedPrecondition, "parent \(parent) is \(parentRecord.kind), not committed")
                }
                record.parent = parent
            }
            let counted = try usage(record)
            record.key = name
            record.kind = SnapshotKind.committed.rawValue
            record.labels.merge(labels) { _, new in new }
            record.usageSize = counted.size
            record.usageInodes = counted.inodes
            record.updatedAt = Date()
            try record.update(db)
            Failpoint.hit("snapshot-commit-in-transaction")
            return record
        }
    }

    /// Deletes the row of a snapshot without children; the caller removes its directory after.
    func remove(_ key: String) throws(StoreError) -> SnapshotRecord {
        try metadata.write { db in
            let record = try record(key, db)
            let children = try children(of: key, db)
            if !children.isEmpty {
                throw StoreError(.failedPrecondition,
                                 "snapshot \(key) has \(children.count) \(children.count == 1 ? "child" : "children"): \(children.joined(separator: ", "))")
            }
            try record.delete(db)
            return record
        }
    }

    func update(_ key: String, labels: [String: String], fieldPaths: [String]) throws(StoreError) -> SnapshotRecord {
        try metadata.write { db in
            var record = try record(key, db)
            record.labels = try LabelUpdate.apply(labels, fieldPaths: fieldPaths, to: record.labels)
            record.updatedAt = Date()
            try record.update(db)
            return record
        }
    }

    func all() throws(StoreError) -> [SnapshotRecord] {
        try metadata.read { db in
            try SnapshotRecord.filter(Column("snapshotter") == snapshotter).order(Column("key")).fetchAll(db)
        }
    }

    static func info(_ record: SnapshotRecord) -> SnapshotInfo {
        SnapshotInfo(name: record.key, kind: SnapshotKind(rawValue: record.kind) ?? .active, parent: record.parent,
                     labels: record.labels, createdAt: record.createdAt, updatedAt: record.updatedAt)
    }

    static func fields(_ info: SnapshotInfo) -> [String: String] {
        var fields = ["name": info.name, "kind": info.kind.rawValue]
        if let parent = info.parent { fields["parent"] = parent }
        for (key, value) in info.labels { fields["labels." + key] = value }
        return fields
    }
}
