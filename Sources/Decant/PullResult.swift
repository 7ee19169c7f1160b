import DecantArchive
import DecantOCI

/// What a pull did, layer by layer (bottom first): what harnesses and build farms read.
public struct PullResult: Sendable, Codable {
    public struct Layer: Sendable, Codable {
        public var index: Int
        public var digest: Digest
        public var mediaType: MediaType
        public var size: Int64
        public var diffID: Digest
        public var chainID: Digest
        /// The committed snapshot's name (the chainID).
        public var snapshotKey: String
        /// `unpacked` by this pull, or `reused` (already committed).
        public var status: String
        /// The overlay upper dir, or the native snapshot's tree.
        public var directory: String
        public var entries: Int?
        public var files: Int?
        public var uncompressedSize: Int64?
        public var seconds: Double?
        /// Where the extraction's time went (read, hash, inflate, write, waits), for harnesses
        /// that compute what the machine could do at best.
        public var stages: LayerStageTimes?
        /// Whether the content store holds the layer's blob once the pull is done: `false` for a
        /// layer unpacked with ``PullOptions/discardUnpackedLayers`` and for a reused layer whose
        /// blob was never fetched. (A blob another process was storing meanwhile is waited for.)
        public var blobStored: Bool
    }

    public var image: String
    public var created: Bool
    public var manifest: Digest
    public var config: Digest
    public var platform: String?
    public var snapshotter: String
    public var layers: [Layer]
    public var layersUnpacked: Int
    public var layersReused: Int
    public var compressedBytes: Int64
    public var uncompressedBytes: Int64
    public var files: Int
    public var seconds: Double
    public var megabytesPerSecond: Double
}
