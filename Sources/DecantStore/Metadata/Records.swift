import Foundation
import GRDB

/// An image: a name pointing at a manifest or index (containerd's `images.Image`).
public struct ImageRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "images"
    public var name: String
    public var mediaType: String
    public var digest: String
    public var size: Int64
    public var labels: [String: String]
    public var createdAt: Date
    public var updatedAt: Date

    public init(name: String, mediaType: String, digest: String, size: Int64, labels: [String: String] = [:],
                createdAt: Date = Date(), updatedAt: Date = Date()) {
        self.name = name
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.labels = labels
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Labels and times of a blob; the blob's existence is its file, not this row.
struct ContentRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "content"
    var digest: String
    var labels: [String: String]
    var createdAt: Date
    var updatedAt: Date
}

/// A snapshot's metadata; its directory is `snapshots/<snapshotter>/<id>`.
struct SnapshotRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "snapshots"
    var id: Int64?
    var snapshotter: String
    var key: String
    var kind: String
    var parent: String?
    var labels: [String: String]
    var createdAt: Date
    var updatedAt: Date
    var usageSize: Int64
    var usageInodes: Int64

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A lease: while it lives, what it names is not garbage collected.
struct LeaseRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "leases"
    var id: String
    var labels: [String: String]
    var createdAt: Date
    var expiresAt: Date?
}

/// One thing a lease holds: `content` (a digest), `ingests` (an ingest ref) or
/// `snapshots/<snapshotter>` (a snapshot key).
struct LeaseResourceRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "leaseResources"
    var leaseID: String
    var type: String
    var key: String
}
