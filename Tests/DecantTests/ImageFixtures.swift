import DecantTestSupport
import Foundation

/// The generated images (`Tests/ImageFixtures/make-images.py`) and what containerd 1.6 made of
/// them (`Tests/ImageFixtures/containerd-images.sh`), built once per test process.
struct ImageFixtures: Sendable {
    struct Image: Decodable, Sendable {
        struct Layer: Decodable, Sendable {
            var digest: String
            var diffID: String
            var unstableMtime: [String]?
        }

        var name: String
        var layout: String
        var ociArchive: String
        var dockerArchive: String?
        var dockerRepoTag: String?
        var layers: [Layer]
        var chainIDs: [String]
        var expect: FixtureExpectation

        var isOK: Bool { expect.isOK }
    }

    private struct Manifest: Decodable { var images: [Image] }

    let directory: URL
    let images: [Image]

    func image(_ name: String) -> Image { images.first { $0.name == name }! }
    func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    /// The layer of `image` whose blob is the biggest, with the blob's bytes.
    func biggestLayer(_ image: String) throws -> (layer: Image.Layer, bytes: [UInt8]) {
        let blobs = try self.image(image).layers.map { layer in
            (layer, try [UInt8](Data(contentsOf: URL(fileURLWithPath: path("\(image)/blobs/sha256/\(layer.digest.dropFirst("sha256:".count))")))))
        }
        return blobs.max { $0.1.count < $1.1.count }!
    }

    /// containerd's dump of a tree of an image: `layer-<i>`, `merged`, `native-merged`.
    func reference(_ image: String, _ tree: String) -> URL {
        directory.appendingPathComponent("ref/\(image)/\(tree).json")
    }

    /// Paths whose mtime is the time of extraction in containerd's tree.
    func unstableMTimes(_ image: String, _ tree: String) -> [String] {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("ref/\(image)/unstable-mtime.json")),
              let table = try? JSONDecoder().decode([String: [String]].self, from: data)
        else { return [] }
        return table[tree] ?? []
    }

    /// Generated on first use; a failure to generate fails every test that needs the fixtures.
    private static let shared = SharedFixture("image-fixtures") {
        let scripts = Repository.root.appendingPathComponent("Tests/ImageFixtures")
        let directory = try ProcessDirectory.make("images")
        try Shell.check(["python3", scripts.appendingPathComponent("make-images.py").path, directory.path])
        try Shell.check(["bash", scripts.appendingPathComponent("containerd-images.sh").path, directory.path])
        let data = try Data(contentsOf: directory.appendingPathComponent("images.json"))
        return ImageFixtures(directory: directory, images: try JSONDecoder().decode(Manifest.self, from: data).images)
    }

    static func get() async throws -> ImageFixtures { try await shared.get() }
}
