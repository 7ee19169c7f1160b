import DecantOCI
import DecantTestSupport
import Foundation

/// The generated layer fixtures (`Tests/Fixtures/make-layers.py`) and what containerd 1.6 made of
/// them (`Tests/Fixtures/containerd-reference.sh`), built once per test process.
struct FixtureSet: Sendable {
    struct Case: Decodable, Sendable {
        var name: String
        var blob: String
        var mediaType: String
        var base: String?
        var baseMediaType: String?
        var expect: FixtureExpectation
        var description: String
        /// Directories the layer creates without a header of their own (their mtime is the time
        /// of extraction, in containerd's tree as in Decant's).
        var ignoreMtime: [String]?


        var isOK: Bool { expect.isOK }
    }

    private struct Manifest: Decodable { var cases: [Case] }

    let directory: URL
    let cases: [Case]

    var okCases: [Case] { cases.filter(\.isOK) }
    var errorCases: [Case] { cases.filter { !$0.isOK } }

    func url(_ relative: String) -> URL { directory.appendingPathComponent(relative) }

    /// containerd's dump of the named tree (`overlay-base`, `overlay`, `native`) for a case.
    func reference(_ name: String, _ tree: String) -> URL {
        directory.appendingPathComponent("ref/\(name)/\(tree).json")
    }

    /// Paths whose mtime containerd does not keep in the named tree (its native snapshotter copies
    /// parent directories without their mtimes).
    func unstableMTimes(_ name: String, _ tree: String) throws -> [String] {
        let data = try Data(contentsOf: directory.appendingPathComponent("ref/\(name)/unstable-mtime.json"))
        return try JSONDecoder().decode([String: [String]].self, from: data)[tree] ?? []
    }

    /// What containerd said of an error case, when it rejected it.
    func containerdError(_ name: String) -> String? {
        try? String(contentsOf: directory.appendingPathComponent("ref/\(name)/containerd-error.txt"), encoding: .utf8)
    }

    static let scripts = Repository.root.appendingPathComponent("Tests/Fixtures")

    /// Generated on first use; a failure to generate fails every test that needs the fixtures.
    private static let shared = SharedFixture("layer-fixtures") {
        let directory = try ProcessDirectory.make("fixtures")
        try Shell.check(["python3", scripts.appendingPathComponent("make-layers.py").path, directory.path])
        try Shell.check(["bash", scripts.appendingPathComponent("containerd-reference.sh").path, directory.path])
        let data = try Data(contentsOf: directory.appendingPathComponent("cases.json"))
        return FixtureSet(directory: directory, cases: try JSONDecoder().decode(Manifest.self, from: data).cases)
    }

    static func get() async throws -> FixtureSet { try await shared.get() }
}
