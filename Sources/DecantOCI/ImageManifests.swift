import Foundation

extension MediaType {
    public static let ociManifest: MediaType = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex: MediaType = "application/vnd.oci.image.index.v1+json"
    public static let ociConfig: MediaType = "application/vnd.oci.image.config.v1+json"
    public static let dockerManifest: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerManifestList: MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerConfig: MediaType = "application/vnd.docker.container.image.v1+json"
    public static let dockerSchema1: MediaType = "application/vnd.docker.distribution.manifest.v1+json"
    public static let dockerSchema1Signed: MediaType = "application/vnd.docker.distribution.manifest.v1+prettyjws"

    public var isManifest: Bool { self == .ociManifest || self == .dockerManifest }
    public var isIndex: Bool { self == .ociIndex || self == .dockerManifestList }
    public var isSchema1: Bool { self == .dockerSchema1 || self == .dockerSchema1Signed }
}

/// An image manifest (OCI or Docker schema 2): a config and layers, bottom first.
public struct ImageManifest: Sendable, Codable {
    public var schemaVersion: Int
    public var mediaType: MediaType?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var annotations: [String: String]?

    public init(schemaVersion: Int = 2, mediaType: MediaType?, config: Descriptor, layers: [Descriptor],
                annotations: [String: String]? = nil) {
        self.schemaVersion = schemaVersion
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// An image index (OCI) or manifest list (Docker): manifests by platform.
public struct ImageIndex: Sendable, Codable {
    public var schemaVersion: Int
    public var mediaType: MediaType?
    public var manifests: [Descriptor]
    public var annotations: [String: String]?
}

/// The parts of an image config a pull needs: its platform and the layers' diff_ids.
public struct ImageConfig: Sendable, Codable {
    public struct RootFS: Sendable, Codable {
        public var type: String
        public var diffIDs: [Digest]

        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
    }

    public var architecture: String?
    public var os: String?
    public var variant: String?
    public var rootfs: RootFS
}

/// What a manifest-ish JSON blob turns out to be.
public enum ManifestDocument: Sendable {
    case manifest(ImageManifest)
    case index(ImageIndex)

    /// Decodes by the declared media type, or, when it is generic, by shape; Docker schema 1 is
    /// refused.
    public static func decode(_ data: Data, mediaType: MediaType?) throws(OCIError) -> ManifestDocument {
        /// Only the shape: what the lists hold is checked once the type is known.
        struct Probe: Decodable {
            struct Present: Decodable {
                init(from decoder: any Decoder) {}
            }
            var mediaType: MediaType?
            var schemaVersion: Int?
            var manifests: [Present]?
            var layers: [Present]?
        }
        let probe: Probe
        do {
            probe = try JSONDecoder().decode(Probe.self, from: data)
        } catch let error as DecodingError {
            throw OCIError("manifest is not an OCI or Docker manifest or index: \(error.summary)")
        } catch {
            throw OCIError("manifest cannot be read: \(error)")
        }
        let type = probe.mediaType ?? mediaType
        if probe.schemaVersion == 1 || type?.isSchema1 == true {
            throw OCIError("Docker image manifest schema 1 is deprecated and not supported: convert the image to schema 2 or OCI")
        }
        do {
            if type?.isIndex == true || (type == nil && probe.manifests != nil) {
                return .index(try JSONDecoder().decode(ImageIndex.self, from: data))
            }
            if type?.isManifest == true || (type == nil && probe.layers != nil) {
                return .manifest(try JSONDecoder().decode(ImageManifest.self, from: data))
            }
        } catch let error as DecodingError {
            throw OCIError("invalid \(type?.description ?? "manifest"): \(error.summary)")
        } catch {
            throw OCIError("cannot decode \(type?.description ?? "manifest"): \(error)")
        }
        throw OCIError("unsupported manifest media type \(type?.description ?? "(none)")")
    }
}

/// Malformed or unsupported image metadata.
public struct OCIError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
