import DecantIO
import DecantTestSupport
import Foundation
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct RemoveTreeTests {
    /// A tree far deeper than `PATH_MAX` (and than the descriptors a process may hold), as a
    /// layer can make one, with a file and a symlink at every level: all of it goes, and what it
    /// held is counted.
    @Test func removesATreeDeeperThanAnyPath() throws {
        let scratch = try Scratch("remove-tree")
        let top = try scratch.directory("top")
        let root = OwnedDescriptor(taking: try FileDescriptor.openDirectory(FilePath(top.path)))
        let name = String(repeating: "d", count: 200)
        let levels = 1500
        try root.descriptor.makeDirectory("tree", mode: 0o755)
        var directory = OwnedDescriptor(taking: try root.descriptor.openEntry("tree", flags: O_RDONLY | O_DIRECTORY))
        for _ in 0..<levels {
            let file = try directory.descriptor.openEntry("file", flags: O_WRONLY | O_CREAT, mode: 0o644)
            try file.close()
            try directory.descriptor.makeSymlink("link", target: "../..")
            try directory.descriptor.makeDirectory(name, mode: 0o755)
            directory = OwnedDescriptor(taking: try directory.descriptor.openEntry(name, flags: O_RDONLY | O_DIRECTORY))
        }
        #expect(levels * (name.count + 1) > Int(PATH_MAX) * 50)

        let removed = try root.descriptor.removeTree("tree", path: top.path + "/tree")
        #expect(removed.inodes == Int64(1 + levels * 3))
        #expect(try root.descriptor.entryNames(path: top.path).isEmpty, "nothing left, nothing moved up left behind")
    }
}
