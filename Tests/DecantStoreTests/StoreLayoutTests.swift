import DecantStore
import Foundation
import Testing

@Suite struct StoreLayoutTests {
    /// `--root ./store` works from anywhere: what the store hands out (a pull's snapshot
    /// directories, a mount's lowerdir) are absolute paths, not paths that only mean something in
    /// the directory the pull ran in.
    @Test func aRelativeRootIsMadeAbsolute() {
        let here = FileManager.default.currentDirectoryPath
        #expect(StoreLayout(root: "stores/./a/../b/").root == here + "/stores/b")
        #expect(StoreLayout(root: "/var/lib/decant/").root == "/var/lib/decant")
        #expect(StoreLayout(root: "/var/lib/decant").blobs == "/var/lib/decant/content/blobs/sha256")
    }
}
