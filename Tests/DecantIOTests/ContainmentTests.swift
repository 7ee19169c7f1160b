import DecantIO
import Foundation
import SystemPackage
import Testing

/// The kernel keeps every resolution inside the tree: absolute and `..` symlinks are re-rooted.
@Suite struct ContainmentTests {
    private func makeRoot() throws -> (URL, ContainedTree) {
        let base = URL(fileURLWithPath: "/var/tmp/decant-tests/io-\(UUID().uuidString.prefix(8))")
        let root = base.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return (base, try ContainedTree(root: FilePath(root.path)))
    }

    @Test func symlinksToTheHostRootStayInside() throws {
        let (base, tree) = try makeRoot()
        defer { try? FileManager.default.removeItem(at: base) }
        let root = base.appendingPathComponent("root")
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("host").path, withDestinationPath: "/")
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("up").path, withDestinationPath: "../../..")
        var created: [String] = []
        _ = try tree.directory("host/decant-containment-probe/a", createMissing: true) { created.append($0) }
        _ = try tree.directory("up/decant-containment-up", createMissing: true) { created.append($0) }
        #expect(created == ["decant-containment-probe", "decant-containment-probe/a", "decant-containment-up"])
        #expect(!FileManager.default.fileExists(atPath: "/decant-containment-probe"))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("decant-containment-probe/a").path))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("decant-containment-up").path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: base.path) == ["root"])
    }

    @Test func aDanglingSymlinkIsFollowedInsideWhenCreatingParents() throws {
        let (base, tree) = try makeRoot()
        defer { try? FileManager.default.removeItem(at: base) }
        let root = base.appendingPathComponent("root")
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("link").path, withDestinationPath: "/made/here")
        var created: [String] = []
        _ = try tree.directory("link/below", createMissing: true) { created.append($0) }
        #expect(created == ["made", "made/here", "made/here/below"])
    }

    @Test func missingDirectoriesAreNotCreatedUnlessAsked() throws {
        let (base, tree) = try makeRoot()
        defer { try? FileManager.default.removeItem(at: base) }
        #expect(throws: SystemCallError.self) { try tree.directory("absent/dir", createMissing: false) }
    }
}
