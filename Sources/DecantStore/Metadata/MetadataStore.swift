import Foundation
import GRDB

/// The store's SQLite database (`metadata.db`, WAL): images, content labels, snapshots, leases.
///
/// Every multi-step change runs in one `write` transaction; readers never block the writer.
public final class MetadataStore: Sendable {
    let pool: DatabasePool

    init(path: String) throws(StoreError) {
        do {
            var configuration = Configuration()
            configuration.foreignKeysEnabled = true
            // Another process (a second `decant`) may hold the write lock for a moment.
            configuration.busyMode = .timeout(30)
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw StoreError(.io, "cannot open the metadata database \(path)", describing: error)
        }
    }

    /// Runs `body` in a write transaction; a thrown error rolls everything back.
    func write<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.io, "metadata transaction failed", describing: error)
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.io, "metadata read failed", describing: error)
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "images") { table in
                table.column("name", .text).primaryKey()
                table.column("mediaType", .text).notNull()
                table.column("digest", .text).notNull()
                table.column("size", .integer).notNull()
                table.column("labels", .text).notNull()
                table.column("createdAt", .datetime).notNull()
                table.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "content") { table in
                table.column("digest", .text).primaryKey()
                table.column("labels", .text).notNull()
                table.column("createdAt", .datetime).notNull()
                table.column("updatedAt", .datetime).notNull()
            }
            try db.create(table: "snapshots") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("snapshotter", .text).notNull()
                table.column("key", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("parent", .text)
                table.column("labels", .text).notNull()
                table.column("createdAt", .datetime).notNull()
                table.column("updatedAt", .datetime).notNull()
                table.column("usageSize", .integer).notNull()
                table.column("usageInodes", .integer).notNull()
                table.uniqueKey(["snapshotter", "key"])
            }
            try db.create(index: "snapshotsByParent", on: "snapshots", columns: ["snapshotter", "parent"])
            try db.create(table: "leases") { table in
                table.column("id", .text).primaryKey()
                table.column("labels", .text).notNull()
                table.column("createdAt", .datetime).notNull()
                table.column("expiresAt", .datetime)
            }
            try db.create(table: "leaseResources") { table in
                table.column("leaseID", .text).notNull().references("leases", onDelete: .cascade)
                table.column("type", .text).notNull()
                table.column("key", .text).notNull()
                table.primaryKey(["leaseID", "type", "key"])
            }
        }
        return migrator
    }
}
