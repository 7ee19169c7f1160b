/// An OCI content descriptor: what a blob is, how big, and its digest.
public struct Descriptor: Sendable, Codable, Hashable {
    public var mediaType: MediaType
    public var digest: Digest
    public var size: Int64
    public var annotations: [String: String]?
    public var platform: Platform?
    public var urls: [String]?

    public init(mediaType: MediaType, digest: Digest, size: Int64, annotations: [String: String]? = nil,
                platform: Platform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}
