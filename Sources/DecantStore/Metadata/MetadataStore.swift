import DecantIO
import Foundation
import GRDB
import GRDBSQLite
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The store's SQLite database (`metadata.db`, WAL): images, content labels, snapshots, leases.
///
/// Every multi-step change runs in one `write` transaction; readers never block the writer.
public final class MetadataStore: Sendable {
    let pool: DatabasePool

    init(path: String) throws(StoreError) {
        // Opening runs `PRAGMA journal_mode = WAL` and, on a new store, the migrations: a second
        // process doing the same at that moment gets SQLITE_BUSY at once (the busy timeout does
        // not cover a journal mode change) or finds the tables it is about to create made
        // meanwhile. The processes that open one store take turns, holding a lock on its
        // directory (`flock`, which SQLite's own `fcntl` locks do not see) for those few
        // milliseconds.
        let directory = FilePath(path).removingLastComponent()
        let turn: OwnedDescriptor
        do {
            turn = OwnedDescriptor(taking: try FileDescriptor.openDirectory(directory.isEmpty ? "." : directory))
            try turn.descriptor.lockExclusively(path: directory.string)
        } catch {
            throw StoreError(.io, "cannot lock the store directory \(directory)", describing: error)
        }
        defer { withExtendedLifetime(turn) {} }
        do {
            var configuration = Configuration()
            configuration.foreignKeysEnabled = true
            // Another process (a second `decant`) may hold the write lock for a moment.
            configuration.busyMode = .timeout(30)
            // SQLite deletes the -wal and -shm files when the last connection closes, and must
            // create them again to open the database: on a full disk even `decant images` would
            // fail, and `decant images rm` and `decant gc` could not free anything. Kept, with
            // their blocks, they let the next process open the store and write small
            // transactions (which restart at the log's beginning) whatever the disk's state.
            configuration.prepareDatabase { db in
                var persist: CInt = 1
                let code = sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, &persist)
                guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code)) }
            }
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw StoreError(.io, "cannot open the metadata database \(path)", describing: error)
        }
        Self.reserveLogSpace(path + "-wal")
    }

    /// What the write-ahead log normally grows to before a checkpoint starts it again: SQLite's
    /// automatic checkpoint comes after 1000 pages of 4 KiB.
    static let logReservation: Int64 = 4 << 20

    /// Gives the write-ahead log its blocks beforehand (beyond its end, so SQLite sees no
    /// change): a store that was never written much can still commit and roll back a pull, and
    /// remove images, on a disk that fills up. Best effort: a disk already full keeps the log
    /// as it is.
    private static func reserveLogSpace(_ path: String) {
        guard let log = try? FileDescriptor(rawValue: AT_FDCWD).openEntry(path, flags: O_WRONLY) else { return }
        let owned = OwnedDescriptor(taking: log)
        try? owned.descriptor.reserveBlocks(length: logReservation, path: path)
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
