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

    /// A store under a directory whose name holds a comma and a colon (which overlay options
    /// use as separators): `decant mount` mounts its images, and the command `snapshots mounts`
    /// prints mounts them too when run by a shell.
    @Test func aStoreUnderACommaAndAColonMounts() async throws {
        let (scratch, _, reference) = try await commandLineSetup("odd-root", image: "shared-b")
        defer { withExtendedLifetime(scratch) {} }
        let root = try scratch.directory("a,b:c").appendingPathComponent("root").path
        try await Shell.check([Repository.decant, "pull", "--root", root, reference])
        let store = try Store(layout: StoreLayout(root: root))
        let top = try #require(try store.overlay.walk(filters: []).first { info in
            try store.overlay.walk(filters: []).allSatisfy { $0.parent != info.name }
        })
        #expect(top.parent != nil, "the image has more than one layer, so its mount is an overlay")

        let target = try scratch.directory("mnt").path
        var merged: [String] = []
        for writable in [false, true] {
            let mounted = try await Shell.run([Repository.decant, "mount", "--root", root] + (writable ? ["--rw"] : []) + [reference, target])
            #expect(mounted.status == 0, "\(mounted.stderr)")
            merged = (try? FileManager.default.contentsOfDirectory(atPath: target)) ?? []
            #expect(!merged.isEmpty)
            #expect(FileManager.default.createFile(atPath: target + "/new", contents: Data("x".utf8)) == writable)
            try await Shell.check([Repository.decant, "unmount", "--root", root, target])
            #expect(try !isMountPoint(target))
        }

        _ = try store.overlay.view("printed", parent: top.name, labels: [:])
        let printed = try await Shell.check([Repository.decant, "snapshots", "mounts", "--root", root, target, "printed"]).stdout
        let run = try await Shell.run(["bash", "-c", printed])
        defer { if (try? isMountPoint(target)) == true { _ = umount2(target, Int32(MNT_DETACH)) } }
        #expect(run.status == 0, "\(printed): \(run.stderr)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: target)) == merged)
    }
}
