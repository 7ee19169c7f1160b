import Foundation
import Testing

/// An OCI layout's index, its first manifest and that manifest's config, as JSON objects: for
/// tests that take an image apart or rebuild it.
struct LayoutDocuments {
    let directory: String
    var index: [String: Any]
    var manifest: [String: Any]
    var configDigest: String
    var config: [String: Any]

    init(_ directory: String) throws {
        self.directory = directory
        index = try Self.object(at: directory + "/index.json")
        let entries = try #require(index["manifests"] as? [[String: Any]])
        let manifestDigest = try #require(entries.first?["digest"] as? String)
        manifest = try Self.object(at: Self.blobPath(manifestDigest, in: directory))
        let configDescriptor = try #require(manifest["config"] as? [String: Any])
        configDigest = try #require(configDescriptor["digest"] as? String)
        config = try Self.object(at: Self.blobPath(configDigest, in: directory))
    }

    /// Where the layout keeps the blob `digest` (`sha256:…`).
    func blobPath(_ digest: String) -> String { Self.blobPath(digest, in: directory) }

    /// The bytes of the blob `digest`.
    func blob(_ digest: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: blobPath(digest))) }

    private static func blobPath(_ digest: String, in directory: String) -> String {
        directory + "/blobs/sha256/" + digest.dropFirst("sha256:".count)
    }

    private static func object(at path: String) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        return try #require(parsed as? [String: Any])
    }
}
