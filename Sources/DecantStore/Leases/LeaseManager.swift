import Foundation
import GRDB

/// A lease and what it holds.
public struct Lease: Sendable, Codable, Equatable {
    public var id: String
    public var labels: [String: String]
    public var createdAt: Date
    public var expiresAt: Date?
    public var resources: [LeaseResource]

    public func isExpired(at now: Date = Date()) -> Bool {
        expiresAt.map { $0 <= now } ?? false
    }
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

    init(metadata: MetadataStore) {
        self.metadata = metadata
    }

    /// Creates a lease; a random id when none is given; `expiration` from now (containerd's
    /// `containerd.io/gc.expire` label is set too, for tools that read labels).
    public func create(id: String? = nil, labels: [String: String] = [:], expiration: TimeInterval? = nil) throws(StoreError) -> Lease {
        let now = Date()
        let expiresAt = expiration.map { now.addingTimeInterval($0) }
        var labels = labels
        if let expiresAt { labels["containerd.io/gc.expire"] = ISO8601DateFormatter().string(from: expiresAt) }
        let record = LeaseRecord(id: id ?? "decant-" + UUID().uuidString.lowercased(), labels: labels,
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

    public func list(filters: [Filter] = []) throws(StoreError) -> [Lease] {
        try metadata.read { db in
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
