import DecantStore
import DecantTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension PullTests {
    private func isMountPoint(_ path: String) throws -> Bool {
        try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            .split(separator: "\n").contains { $0.split(separator: " ").dropFirst(4).first.map(String.init) == path }
    }

    /// `decant mount` and `unmount` of an image of 120 layers, read-only and on a writable
    /// snapshot: every layer's file shows, and nothing is left behind. Its lowerdir list (about
    /// 8 KiB of absolute paths here) does not fit in the page mount(2) takes, so the layers are
    /// named relative to their common directory.
    @Test func anImageOfManyLayersMountsAndUnmounts() throws {
        let scratch = try Scratch("many-layers")
        let layout = scratch.url.appendingPathComponent("layout").path
        try Shell.check(["python3", Repository.root.appendingPathComponent("Tests/Fixtures/make-many-layers.py").path, layout, "120"])
        let root = scratch.url.appendingPathComponent("root").path
        let reference = "oci:\(layout):latest"
        try Shell.check([Repository.decant, "pull", "--root", root, reference])

        for writable in [false, true] {
            let target = try scratch.directory("mnt-\(writable)").path
            let mounted = try Shell.run([Repository.decant, "mount", "--root", root] + (writable ? ["--rw"] : []) + [reference, target])
            defer { if (try? isMountPoint(target)) == true { _ = umount2(target, Int32(MNT_DETACH)) } }
            #expect(mounted.status == 0, "\(mounted.stderr.prefix(300))")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: target + "/layers")) ?? []
            #expect(names.count == 120, "writable \(writable)")
            #expect((try? String(contentsOfFile: target + "/layers/l000", encoding: .utf8)) == "layer 0\n")
            #expect((try? String(contentsOfFile: target + "/layers/l119", encoding: .utf8)) == "layer 119\n")
            #expect(FileManager.default.createFile(atPath: target + "/new", contents: Data("x".utf8)) == writable)

            try Shell.check([Repository.decant, "unmount", "--root", root, target])
            #expect(try !isMountPoint(target))
        }
        let store = try Store(layout: StoreLayout(root: root))
        let snapshots = try store.overlay.walk(filters: [])
        #expect(snapshots.count == 120 && snapshots.allSatisfy { $0.kind == .committed }, "no mount snapshot is left")
    }
}
