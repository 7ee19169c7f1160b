import Foundation
import GRDB

/// Image records: a name pointing at a manifest or index (containerd's image store).
public final class ImageStore: Sendable {
    let metadata: MetadataStore

    init(metadata: MetadataStore) {
        self.metadata = metadata
    }

    /// Creates the image, or updates its target and labels when the name exists, keeping its
    /// creation time — containerd's `createNewImage`. Returns the record and whether it was new.
    @discardableResult
    public func createOrUpdate(_ image: ImageRecord) throws(StoreError) -> (record: ImageRecord, created: Bool) {
        try metadata.write { db in
            let now = Date()
            if var existing = try ImageRecord.fetchOne(db, key: image.name) {
                existing.mediaType = image.mediaType
                existing.digest = image.digest
                existing.size = image.size
                existing.labels = image.labels
                existing.updatedAt = now
                try existing.update(db)
                return (existing, false)
            }
            var record = image
            record.createdAt = now
            record.updatedAt = now
            try record.insert(db)
            return (record, true)
        }
    }

    public func get(_ name: String) throws(StoreError) -> ImageRecord {
        guard let record = try metadata.read({ db in try ImageRecord.fetchOne(db, key: name) }) else {
            throw StoreError(.notFound, "image \(name) not found")
        }
        return record
    }

    public func list(filters: [Filter] = []) throws(StoreError) -> [ImageRecord] {
        try metadata.read { db in try ImageRecord.order(Column("name")).fetchAll(db) }.filter { image in
            var fields = ["name": image.name, "target.digest": image.digest, "target.mediatype": image.mediaType]
            for (key, value) in image.labels { fields["labels." + key] = value }
            return Filter.matches(filters, fields)
        }
    }

    public func delete(_ name: String) throws(StoreError) {
        let deleted = try metadata.write { db in try ImageRecord.deleteOne(db, key: name) }
        if !deleted { throw StoreError(.notFound, "image \(name) not found") }
    }
}
