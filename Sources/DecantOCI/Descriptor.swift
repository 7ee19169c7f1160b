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

    private enum CodingKeys: String, CodingKey {
        case mediaType, digest, size, annotations, platform, urls
    }

    /// Refuses a negative `size`: readers of a descriptor size buffers, read limits and byte
    /// ranges from it, where a negative one traps instead of failing.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        mediaType = try container.decode(MediaType.self, forKey: .mediaType)
        digest = try container.decode(Digest.self, forKey: .digest)
        size = try container.decode(Int64.self, forKey: .size)
        guard size >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .size, in: container, debugDescription: "a negative size (\(size))")
        }
        annotations = try container.decodeIfPresent([String: String].self, forKey: .annotations)
        platform = try container.decodeIfPresent(Platform.self, forKey: .platform)
        urls = try container.decodeIfPresent([String].self, forKey: .urls)
    }
}
