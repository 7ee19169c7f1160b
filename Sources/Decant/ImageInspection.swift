import DecantOCI
import DecantStore
import Foundation

/// An image as the store holds it: its record, the manifest chosen for this machine (the one the
/// pull labelled on the index), its config and each layer's snapshot.
public struct ImageInspection: Sendable, Encodable {
    public struct Layer: Sendable, Encodable {
        public var digest: Digest
        public var diffID: Digest
        public var chainID: Digest
        /// The committed snapshot, when the layer is unpacked in the given snapshotter.
        public var snapshot: String?
        public var directory: String?
    }

    public var image: ImageRecord
    public var manifest: Digest
    public var config: Digest
    public var snapshotter: String
    public var layers: [Layer]

    /// The top layer's chainID: what a mount of the image stacks on.
    public var top: Digest? { layers.last?.chainID }

    public init(store: Store, name: String, snapshotter: String = "overlayfs") throws(StoreError) {
        image = try store.images.get(name)
        guard let root = Digest(image.digest) else { throw StoreError(.invalidArgument, "image \(name) has target \(image.digest)") }
        var manifestDigest = root
        let rootInfo = try store.content.info(root)
        if let chosen = rootInfo.labels.first(where: { $0.key.hasPrefix("containerd.io/gc.ref.content.m.") })?.value,
           let digest = Digest(chosen) {
            manifestDigest = digest
        }
        let manifestData = try Self.read(store, manifestDigest)
        guard case .manifest(let manifest) = try? ManifestDocument.decode(manifestData, mediaType: nil) else {
            throw StoreError(.invalidArgument, "content \(manifestDigest) of image \(name) is not a manifest")
        }
        guard let config = try? JSONDecoder().decode(ImageConfig.self, from: try Self.read(store, manifest.config.digest)) else {
            throw StoreError(.invalidArgument, "content \(manifest.config.digest) of image \(name) is not an image config")
        }
        self.manifest = manifestDigest
        self.config = manifest.config.digest
        self.snapshotter = snapshotter
        let snapshots = try store.snapshotter(snapshotter)
        let chain = ChainID.chain(config.rootfs.diffIDs)
        layers = zip(manifest.layers, zip(config.rootfs.diffIDs, chain)).map { layer, ids in
            let committed = (try? snapshots.stat(ids.1.description))?.kind == .committed
            return Layer(digest: layer.digest, diffID: ids.0, chainID: ids.1,
                         snapshot: committed ? ids.1.description : nil,
                         directory: committed ? try? snapshots.directory(ids.1.description) : nil)
        }
    }

    private static func read(_ store: Store, _ digest: Digest) throws(StoreError) -> Data {
        let path = try store.content.path(of: digest)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError(.io, "cannot read content \(digest)")
        }
        return data
    }
}
