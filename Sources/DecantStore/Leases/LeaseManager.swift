import Foundation
import GRDB

/// A lease and what it holds.
public struct Lease: Sendable, Codable, Equatable {
    public var id: String
    public var labels: [String: String]
    public var createdAt: Date
    public var expiresAt: Date?
    public var resources: [LeaseResource]
    /// Whether the process holding it runs (``HeldLease``), when the listing was asked for it.
    public var holder: LeaseHolder?

    public func isExpired(at now: Date = Date()) -> Bool {
        expiresAt.map { $0 <= now } ?? false
    }
}

/// Where a lease's holding process is (see ``HeldLease``).
public enum LeaseHolder: String, Sendable, Codable {
    /// Not held by a process: it lasts until deleted or expired.
    case none
    /// Held by a process that runs.
    case running
    /// Held by a process that has ended: the next collection deletes it.
    case ended
}

/// One object a lease protects from garbage collection.
public struct LeaseResource: Sendable, Codable, Hashable {
    /// `content`, `ingests`, or `snapshots/<snapshotter>`.
    public var type: String
    /// A digest, an ingest ref, or a snapshot key.
    public var id: String

    public init(type: String, id: String) {
        self.type = type
        self.id = id
    }
}

/// Leases protect what a pull is writing (content, ingests, snapshots) until it is referenced by
/// an image, or the lease expires or is deleted (containerd's lease manager).
public final class LeaseManager: Sendable {
    let metadata: MetadataStore
    /// Where held leases' lock files are (see ``HeldLease``).
    let holders: String

    init(metadata: MetadataStore, holders: String) {
        self.metadata = metadata
        self.holders = holders
    }

    /// Creates a lease; a random id when none is given; `expiration` from now (containerd's
    /// `containerd.io/gc.expire` label is set too, for tools that read labels).
    ///
    /// An `id` is containerd's kind of identifier: letters and digits, joined by single `.`, `_`
    /// or `-`, at most 76 characters.
    public func create(id: String? = nil, labels: [String: String] = [:], expiration: TimeInterval? = nil) throws(StoreError) -> Lease {
        if let id, !Self.isValidID(id) {
            throw StoreError(.invalidArgument, "lease id \"\(id)\": use letters and digits joined by single '.', '_' or '-', at most 76 characters")
        }
        return try insert(id: id ?? Self.newID(), labels: labels, expiration: expiration)
    }

    /// containerd's `identifiers.Validate`.
    static func isValidID(_ id: String) -> Bool {
        id.utf8.count <= 76 && id.wholeMatch(of: #/[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*/#) != nil
    }

    /// Creates a lease that lasts while this process holds it (see ``HeldLease``), with a random
    /// id. A collection treats it as expired as soon as the process has ended, whatever
    /// `expiration` says; `expiration` bounds it for a process that hangs.
    public func createHeld(labels: [String: String] = [:], expiration: TimeInterval? = nil) throws(StoreError) -> HeldLease {
        let id = Self.newID()
        let lockFile = try LeaseLockFile.take(directory: holders, id: id)
        do {
            return HeldLease(lease: try insert(id: id, labels: labels, expiration: expiration), manager: self, lockFile: lockFile)
        } catch {
            lockFile.remove()
            throw error
        }
    }

    /// The lock of `lease` when it is held by a process (``createHeld``) that has ended: it is
    /// as good as expired.
    func lockIfAbandoned(_ lease: Lease) -> LeaseLockFile? {
        LeaseLockFile.takeIfAbandoned(directory: holders, id: lease.id)
    }

    /// Removes the lock files of holders that have ended and have no lease (any more): a process
    /// ended between making its lock file and its lease, or between deleting them; or its lease
    /// was deleted for it (expired, or `leases rm`). Best effort: what cannot be read now is
    /// looked at again by the next collection.
    func removeStrayLockFiles() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: holders) else { return }
        for name in names {
            guard let lockFile = LeaseLockFile.takeIfAbandoned(directory: holders, id: name),
                  let exists = try? metadata.read({ db in try LeaseRecord.fetchOne(db, key: name) != nil }),
                  !exists else { continue }
            lockFile.remove()
        }
    }

    private static func newID() -> String {
        "decant-" + UUID().uuidString.lowercased()
    }

    /// Records a lease as it is, `id` unchecked.
    func insert(id: String, labels: [String: String], expiration: TimeInterval?) throws(StoreError) -> Lease {
        let now = Date()
        let expiresAt = expiration.map { now.addingTimeInterval($0) }
        var labels = labels
        if let expiresAt { labels["containerd.io/gc.expire"] = ISO8601DateFormatter().string(from: expiresAt) }
        let record = LeaseRecord(id: id, labels: labels,
                                 createdAt: now, expiresAt: expiresAt)
        try metadata.write { db in
            if try LeaseRecord.fetchOne(db, key: record.id) != nil {
                throw StoreError(.alreadyExists, "lease \(record.id) already exists")
            }
            try record.insert(db)
        }
        return Lease(id: record.id, labels: record.labels, createdAt: now, expiresAt: expiresAt, resources: [])
    }

    public func delete(_ id: String) throws(StoreError) {
        let deleted = try metadata.write { db in try LeaseRecord.deleteOne(db, key: id) }
        if !deleted { throw StoreError(.notFound, "lease \(id) not found") }
    }

    /// The leases `filters` match; with `holders`, each with its ``Lease/holder``.
    public func list(filters: [Filter] = [], holders: Bool = false) throws(StoreError) -> [Lease] {
        var leases = try metadata.read { db in
            let resources = Dictionary(grouping: try LeaseResourceRecord.fetchAll(db), by: \.leaseID)
            return try LeaseRecord.order(Column("id")).fetchAll(db).map { record in
                Lease(id: record.id, labels: record.labels, createdAt: record.createdAt, expiresAt: record.expiresAt,
                      resources: (resources[record.id] ?? []).map { LeaseResource(type: $0.type, id: $0.key) })
            }
        }.filter { lease in
            var fields = ["id": lease.id]
            for (key, value) in lease.labels { fields["labels." + key] = value }
            return Filter.matches(filters, fields)
        }
        if holders {
            for index in leases.indices {
                leases[index].holder = switch LeaseLockFile.check(directory: self.holders, id: leases[index].id) {
                case .none: LeaseHolder.none
                case .running: .running
                case .ended: .ended
                }
            }
        }
        return leases
    }

    public func addResource(_ resource: LeaseResource, to lease: String) throws(StoreError) {
        try addResources([resource], to: lease)
    }

    /// Adds `resources` to `lease` in one transaction; ones it holds already stay as they are.
    public func addResources(_ resources: [LeaseResource], to lease: String) throws(StoreError) {
        try metadata.write { db in
            guard try LeaseRecord.fetchOne(db, key: lease) != nil else { throw StoreError(.notFound, "lease \(lease) not found") }
            for resource in resources {
                try LeaseResourceRecord(leaseID: lease, type: resource.type, key: resource.id).save(db)
            }
        }
    }

    public func removeResource(_ resource: LeaseResource, from lease: String) throws(StoreError) {
        try metadata.write { db in
            _ = try LeaseResourceRecord.filter(Column("leaseID") == lease && Column("type") == resource.type && Column("key") == resource.id)
                .deleteAll(db)
        }
    }
}
