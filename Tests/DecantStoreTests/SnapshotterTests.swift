import DecantIO
@testable import DecantStore
import DecantTestSupport
import Foundation
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Snapshots mounted for real (the tests run as root), written through, committed and stacked.
@Suite(.serialized) struct SnapshotterTests {
    /// The snapshot directories are tops of directory hierarchies (`chattr +T`), so that ext4
    /// puts each snapshot's tree in a block group of its own; the store's root is not.
    @Test func snapshotDirectoriesAreTopDirectories() throws {
        let fixture = try StoreFixture("topdir")
        let overlay = fixture.store.layout.snapshots("overlay"), native = fixture.store.layout.snapshots("native")
        let listing = try Shell.check(["lsattr", "-d", overlay, native, fixture.root]).stdout
        let flags = Dictionary(uniqueKeysWithValues: listing.split(separator: "\n").map { line in
            let fields = line.split(separator: " ", maxSplits: 1)
            return (String(fields[1]), fields[0])
        })
        #expect(flags[overlay]?.contains("T") == true, "\(listing)")
        #expect(flags[native]?.contains("T") == true, "\(listing)")
        #expect(flags[fixture.root]?.contains("T") == false, "\(listing)")
    }

    @Test func overlayChainOfThreeMergesThroughRealMounts() throws {
        let fixture = try StoreFixture("overlay")
        let overlay = fixture.store.overlay

        let bottom = try fixture.mount(try overlay.prepare("k1", parent: nil, labels: [:]), name: "1")
        try write("one", to: bottom + "/a")
        try write("doomed", to: bottom + "/b")
        try fixture.unmount(bottom)
        try overlay.commit(name: "l1", key: "k1", parent: nil, labels: [:], usage: nil)

        let middle = try fixture.mount(try overlay.prepare("k2", parent: "l1", labels: [:]), name: "2")
        #expect(read(middle + "/a") == "one")
        try write("two", to: middle + "/a")
        try FileManager.default.removeItem(atPath: middle + "/b")
        try fixture.unmount(middle)
        try overlay.commit(name: "l2", key: "k2", parent: nil, labels: [:], usage: nil)

        let top = try fixture.mount(try overlay.prepare("k3", parent: "l2", labels: [:]), name: "3")
        try write("three", to: top + "/c")
        #expect(read(top + "/a") == "two")
        #expect(!FileManager.default.fileExists(atPath: top + "/b"))
        #expect(read(top + "/c") == "three")
        try fixture.unmount(top)
        try overlay.commit(name: "l3", key: "k3", parent: nil, labels: [:], usage: nil)

        let view = try fixture.mount(try overlay.view("v", parent: "l3", labels: [:]), name: "view")
        #expect(read(view + "/a") == "two")
        #expect(read(view + "/c") == "three")
        #expect(throws: (any Error).self) { try write("no", to: view + "/d") }
        try fixture.unmount(view)

        #expect(try overlay.stat("l3").parent == "l2")
        #expect(try overlay.stat("l2").kind == .committed)
        #expect(try overlay.usage("l1").inodes == 3)
        #expect(try overlay.walk(filters: [try Filter("kind==committed")]).map(\.name) == ["l1", "l2", "l3"])
    }

    @Test func nativeChainCopiesTheParent() throws {
        let fixture = try StoreFixture("native")
        let native = fixture.store.native
        let first = try fixture.mount(try native.prepare("k1", parent: nil, labels: [:]), name: "1")
        try write("one", to: first + "/a")
        try fixture.unmount(first)
        try native.commit(name: "l1", key: "k1", parent: nil, labels: [:], usage: nil)

        let second = try fixture.mount(try native.prepare("k2", parent: "l1", labels: [:]), name: "2")
        #expect(read(second + "/a") == "one")
        try write("changed", to: second + "/a")
        try fixture.unmount(second)
        try native.commit(name: "l2", key: "k2", parent: nil, labels: [:], usage: nil)
        #expect(read(try native.directory("l1") + "/a") == "one")
        #expect(read(try native.directory("l2") + "/a") == "changed")
    }

    /// A snapshot's directory is made outside the metadata transaction (the native snapshotter
    /// copies the whole parent there): meanwhile another writer (a pull's lease, a commit, a
    /// collection, in this process or another) gets the database at once, rather than after the
    /// copy or "database is locked". The directory is made by a closure that writes a lease from
    /// another thread and waits for it.
    @Test func aSnapshotDirectoryIsMadeWithoutHoldingTheDatabase() throws {
        let fixture = try StoreFixture("tree-outside-transaction")
        let store = fixture.store
        let written = DispatchSemaphore(value: 0)
        _ = try store.native.catalog.create("k", parent: nil, kind: .active, labels: [:]) { _, _ in
            Thread {
                _ = try? store.leases.create(id: "written-meanwhile")
                written.signal()
            }.start()
            let meanwhile = written.wait(timeout: .now() + 10) == .success
            #expect(meanwhile, "the lease waits for the transaction, which waits for the directory")
        }
        #expect(try store.leases.list().map(\.id) == ["written-meanwhile"])
        #expect(try store.native.stat("k").kind == .active)

        // A failure to make the directory leaves no row.
        struct Refused: Error {}
        #expect(throws: (any Error).self) {
            _ = try store.native.catalog.create("refused", parent: nil, kind: .active, labels: [:]) { _, _ in throw Refused() }
        }
        #expect(throws: StoreError.self) { try store.native.stat("refused") }
    }

    @Test func aParentlessSnapshotGetsItsParentAtCommit() throws {
        let fixture = try StoreFixture("rebase")
        let overlay = fixture.store.overlay
        _ = try overlay.prepare("base-work", parent: nil, labels: [:])
        try overlay.commit(name: "base", key: "base-work", parent: nil, labels: [:], usage: nil)
        // Extracted in parallel with the base: no parent yet.
        _ = try overlay.prepare("upper-work", parent: nil, labels: [:])
        try write("upper", to: try overlay.directory("upper-work") + "/u")
        try overlay.commit(name: "upper", key: "upper-work", parent: "base", labels: [:], usage: SnapshotUsage(size: 4096, inodes: 2))
        #expect(try overlay.stat("upper").parent == "base")
        #expect(try overlay.usage("upper") == SnapshotUsage(size: 4096, inodes: 2))
        #expect(throws: StoreError.self) { try overlay.remove("base") }
    }

    /// A mount whose options are too long for mount(2) names its directories relative to their
    /// common directory, which mount runs in (the command says so); a short one stays as it is.
    @Test func aMountTooLongForMount2IsMadeFromTheLayersDirectory() {
        let home = "/var/lib/decant/snapshots/overlay"
        let short = Mount(type: "overlay", source: "overlay", options: ["lowerdir=\(home)/2/fs:\(home)/1/fs"])
        #expect(short.compacted().directory == nil && short.compacted().mount == short)
        #expect(!short.command(target: "/mnt").hasPrefix("cd "))

        let lower = (1...150).reversed().map { "\(home)/\($0)/fs" }
        let long = Mount(type: "overlay", source: "overlay", options: [
            "index=off", "workdir=\(home)/151/work", "upperdir=\(home)/151/fs", "lowerdir=" + lower.joined(separator: ":"),
        ])
        #expect(long.options.joined(separator: ",").utf8.count > Mount.optionLimit)
        let (compacted, directory) = long.compacted()
        #expect(directory == home)
        #expect(compacted.options == ["index=off", "workdir=151/work", "upperdir=151/fs",
                                      "lowerdir=" + (1...150).reversed().map { "\($0)/fs" }.joined(separator: ":")])
        #expect(compacted.options.joined(separator: ",").utf8.count < Mount.optionLimit)
        #expect(long.command(target: "/mnt").hasPrefix("(cd \(home) && mount -t overlay overlay /mnt -o index=off,workdir=151/work,"))
        #expect(long.command(target: "/mnt").hasSuffix(")"))
    }

    /// A store under a directory holding `,` `:` or `\` (overlay options' separators and escape)
    /// names its directories escaped, as overlayfs reads them; a long mount is still made from
    /// their common directory (unescaped, a real path); the printed command is quoted for a
    /// shell; a bind mount is `-t none … -o …,bind`.
    @Test func overlayOptionsEscapeWhatWouldSplitThem() {
        let home = "/srv/a,b:c\\d e/overlay"
        let escaped = "/srv/a\\,b\\:c\\\\d e/overlay"
        #expect(Mount.overlayEscaped(home) == escaped)
        #expect(Mount.overlayUnescaped(escaped) == home)
        #expect(Mount.overlayEscaped("/var/lib/decant/snapshots/overlay/1/fs") == "/var/lib/decant/snapshots/overlay/1/fs")
        #expect(Mount.lowerdirs("\(escaped)/2/fs:\(escaped)/1/fs"[...]) == ["\(escaped)/2/fs", "\(escaped)/1/fs"])

        let short = Mount(type: "overlay", source: "overlay", options: ["index=off", "lowerdir=\(escaped)/2/fs:\(escaped)/1/fs"])
        #expect(short.mountArguments(target: "/mnt/x y").arguments == ["-t", "overlay", "overlay", "/mnt/x y", "-o",
                                                                        "index=off,lowerdir=\(escaped)/2/fs:\(escaped)/1/fs"])
        #expect(short.mountArguments(target: "/mnt/x y").directory == nil)
        #expect(short.command(target: "/mnt/x y") == "mount -t overlay overlay '/mnt/x y' -o 'index=off,lowerdir=\(escaped)/2/fs:\(escaped)/1/fs'")

        let long = Mount(type: "overlay", source: "overlay", options: ["lowerdir=" + (1...150).reversed().map { "\(escaped)/\($0)/fs" }.joined(separator: ":")])
        let (compacted, directory) = long.compacted()
        #expect(directory == home)
        #expect(compacted.options == ["lowerdir=" + (1...150).reversed().map { "\($0)/fs" }.joined(separator: ":")])
        // Their common directory above the escaped one: the relative paths keep their escapes.
        let spread = Mount(type: "overlay", source: "overlay", options: ["lowerdir=" + (1...150).reversed().map { "\(escaped)/\($0)/fs" }.joined(separator: ":") + ":/srv/other/fs"])
        #expect(spread.compacted().directory == "/srv")
        #expect(spread.compacted().mount.options[0].hasPrefix("lowerdir=a\\,b\\:c\\\\d e/overlay/150/fs:a\\,b\\:c\\\\d e/overlay/149/fs:"))
        #expect(spread.compacted().mount.options[0].hasSuffix(":other/fs"))

        // By scalar: a comma or colon carrying a combining mark is still a separator to the kernel.
        #expect(Mount.overlayEscaped("/data/a,\u{301}b:\u{308}c") == "/data/a\\,\u{301}b\\:\u{308}c")
        #expect(Mount.lowerdirs("/x/a\\:\u{308}b:/y\\\\"[...]) == ["/x/a\\:\u{308}b", "/y\\\\"])
        #expect(Mount.overlayUnescaped(Mount.overlayEscaped("/x\\,\u{301}")) == "/x\\,\u{301}")

        let bind = Mount(type: "bind", source: "/srv/a,b/1/fs", options: ["ro", "rbind"])
        #expect(bind.mountArguments(target: "/mnt").arguments == ["-t", "none", "/srv/a,b/1/fs", "/mnt", "-o", "ro,rbind,bind"])
        #expect(bind.command(target: "/mnt") == "mount -t none /srv/a,b/1/fs /mnt -o ro,rbind,bind")
    }

    @Test func refusalsNameWhatIsWrong() throws {
        let fixture = try StoreFixture("refusals")
        let overlay = fixture.store.overlay
        _ = try overlay.prepare("k", parent: nil, labels: [:])
        try overlay.commit(name: "parent", key: "k", parent: nil, labels: [:], usage: nil)
        _ = try overlay.prepare("child-a", parent: "parent", labels: [:])
        _ = try overlay.prepare("child-b", parent: "parent", labels: [:])

        try expectStoreError(.failedPrecondition, "snapshot parent has 2 children: child-a, child-b") { try overlay.remove("parent") }
        try expectStoreError(.failedPrecondition, "snapshot parent is committed, not active") {
            try overlay.commit(name: "again", key: "parent", parent: nil, labels: [:], usage: nil)
        }
        try expectStoreError(.alreadyExists, "snapshot child-a already exists") { _ = try overlay.prepare("child-a", parent: nil, labels: [:]) }
        try expectStoreError(.failedPrecondition, "parent child-b is active, not committed") {
            _ = try overlay.prepare("grandchild", parent: "child-b", labels: [:])
        }
        try expectStoreError(.notFound, "snapshot nope not found") { _ = try overlay.prepare("x", parent: "nope", labels: [:]) }
        // A shared layer: preparing with a reference to a committed snapshot says it exists.
        try expectStoreError(.alreadyExists, "snapshot parent already exists") {
            _ = try overlay.prepare("extract-1", parent: nil, labels: [snapshotReferenceLabel: "parent"])
        }
        #expect(throws: StoreError.self) { try overlay.stat("extract-1") }
        try expectStoreError(.failedPrecondition, "is committed") { _ = try overlay.mounts("parent") }
        try expectStoreError(.failedPrecondition, "snapshot parent is committed: remove it instead of discarding it") {
            try overlay.discard("parent")
        }

        // A failed pull's snapshot: files first, then the row.
        try overlay.discard("child-a")
        try overlay.remove("child-b")
        try overlay.remove("parent")
        #expect(try overlay.walk(filters: []).isEmpty)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.root + "/snapshots/overlay")
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test func cleanupRemovesDirectoriesWithoutMetadata() throws {
        let fixture = try StoreFixture("cleanup")
        _ = try fixture.store.overlay.prepare("kept", parent: nil, labels: [:])
        let orphan = fixture.root + "/snapshots/overlay/999"
        try FileManager.default.createDirectory(atPath: orphan + "/fs", withIntermediateDirectories: true)
        #expect(try fixture.store.overlay.cleanup() == [orphan])
        #expect(try fixture.store.overlay.stat("kept").kind == .active)
    }
}

extension SnapshotterTests {
    /// A snapshot whose tree is deeper than `PATH_MAX` (a layer can make one: extraction works
    /// relative to directories) is removed from the disk whole, when discarded, when removed,
    /// and as an orphan by `cleanup`.
    @Test func treesDeeperThanAnyPathAreRemovedWhole() throws {
        let fixture = try StoreFixture("deep-remove")
        let store = fixture.store
        let home = fixture.root + "/snapshots/overlay"
        func deepen(_ directory: String) throws {
            // Made step by step, relative to each directory: the whole path is more than one
            // system call takes.
            let component = String(repeating: "d", count: 250)
            var level = OwnedDescriptor(taking: try FileDescriptor.openDirectory(FilePath(directory)))
            for _ in 0..<40 {
                try level.descriptor.makeDirectory(component, mode: 0o755)
                level = OwnedDescriptor(taking: try level.descriptor.openEntry(component, flags: O_RDONLY | O_DIRECTORY))
            }
        }
        #expect(Int(PATH_MAX) < 40 * 251)

        _ = try store.overlay.prepare("discarded", parent: nil, labels: [:])
        try deepen(try store.overlay.directory("discarded"))
        _ = try store.overlay.prepare("work", parent: nil, labels: [:])
        try deepen(try store.overlay.directory("work"))
        try store.overlay.commit(name: "committed", key: "work", parent: nil, labels: [:], usage: nil)
        let orphan = home + "/999/fs"
        try FileManager.default.createDirectory(atPath: orphan, withIntermediateDirectories: true)
        try deepen(orphan)

        try store.overlay.discard("discarded")
        try store.overlay.remove("committed")
        #expect(try store.overlay.cleanup() == [home + "/999"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: home).isEmpty, "left on the disk")
    }
}

func expectStoreError(_ code: StoreError.Code, _ message: String, _ body: () throws -> Void,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
    do {
        try body()
        Issue.record("expected \(code): \(message)", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error.code == code, sourceLocation: sourceLocation)
        #expect(error.description.contains(message), "\(error.description)", sourceLocation: sourceLocation)
    }
}
