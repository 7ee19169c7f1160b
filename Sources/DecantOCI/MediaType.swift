/// An OCI or Docker media type string, with the layer types Decant knows spelled out.
public struct MediaType: Hashable, Sendable, Codable, RawRepresentable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let ociLayer: MediaType = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip: MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd: MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let ociLayerNondistributable: MediaType =
        "application/vnd.oci.image.layer.nondistributable.v1.tar"
    public static let ociLayerNondistributableGzip: MediaType =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    public static let ociLayerNondistributableZstd: MediaType =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
    public static let dockerLayer: MediaType = "application/vnd.docker.image.rootfs.diff.tar"
    public static let dockerLayerGzip: MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerForeignLayerGzip: MediaType =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// What a layer of this type declares about its compression, or `nil` when this is not a
    /// layer media type Decant can apply.
    ///
    /// Docker's `rootfs.diff.tar` is listed as uncompressed although Docker has always allowed
    /// compressed bytes behind it: ``admits(_:)`` decides what the bytes may be.
    public var declaredLayerCompression: Compression? {
        switch self {
        case .ociLayer, .ociLayerNondistributable, .dockerLayer: return Compression.none
        case .ociLayerGzip, .ociLayerNondistributableGzip, .dockerLayerGzip, .dockerForeignLayerGzip:
            return .gzip
        case .ociLayerZstd, .ociLayerNondistributableZstd: return .zstd
        default: return nil
        }
    }

    /// Whether a blob whose bytes are compressed as `actual` may stand behind this declared type.
    ///
    /// containerd detects gzip and zstd from the magic bytes whatever the type says; Decant holds
    /// the declaration to the bytes, except for Docker's plain `rootfs.diff.tar`, under which
    /// Docker itself has always accepted compressed layers.
    public func admits(_ actual: Compression) -> Bool {
        if self == .dockerLayer { return true }
        return declaredLayerCompression == actual
    }

    public var description: String { rawValue }
}
