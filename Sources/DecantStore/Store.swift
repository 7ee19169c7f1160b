import Foundation

/// Everything under one root: content, images, snapshots, leases (containerd's metadata plugin and
/// its stores, in one process).
public final class Store: Sendable {
    public let layout: StoreLayout
    public let metadata: MetadataStore
    public let content: ContentStore
    public let images: ImageStore
    public let leases: LeaseManager
    public let overlay: OverlaySnapshotter
    public let native: NativeSnapshotter

    /// Opens (creating when needed) the store at `layout.root`.
    public init(layout: StoreLayout) throws(StoreError) {
        self.layout = layout
        do {
            try layout.create()
        } catch {
            throw StoreError(.io, "cannot create the store at \(layout.root)", describing: error)
        }
        metadata = try MetadataStore(path: layout.database)
        content = ContentStore(layout: layout, metadata: metadata)
        images = ImageStore(metadata: metadata)
        leases = LeaseManager(metadata: metadata, holders: layout.leaseHolders)
        overlay = OverlaySnapshotter(layout: layout, metadata: metadata)
        native = NativeSnapshotter(layout: layout, metadata: metadata)
    }

    /// Every snapshotter, by the name GC labels and the command line use.
    public var snapshotters: [any Snapshotter] { [overlay, native] }
    /// What keeps garbage collections and pulls' leasing apart.
    public var collectionLock: CollectionLock { CollectionLock(path: layout.collectionLock) }

    /// The snapshotter called `name` (`overlayfs`, or `native`).
    public func snapshotter(_ name: String) throws(StoreError) -> any Snapshotter {
        guard let snapshotter = snapshotters.first(where: { $0.name == name || (name == "overlay" && $0.name == "overlayfs") }) else {
            throw StoreError(.invalidArgument, "unknown snapshotter \(name.debugDescription): use overlayfs or native")
        }
        return snapshotter
    }
}
