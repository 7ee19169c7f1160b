import DecantStore
import DecantTestSupport
import Foundation

/// A store in a scratch directory, and the real mounts a test made in it (unmounted at the end).
final class StoreFixture {
    let scratch: Scratch
    let store: Store
    private var mounted: [String] = []

    init(_ label: String) throws {
        scratch = try Scratch(label)
        store = try Store(layout: StoreLayout(root: scratch.url.appendingPathComponent("root").path))
    }

    var root: String { store.layout.root }

    /// Mounts what a snapshotter returned at a new directory, with mount(2) as `decant mount` does.
    func mount(_ mounts: [Mount], name: String) throws -> String {
        let target = try scratch.directory("mnt-" + name).path
        for mount in mounts { try mount.mount(at: target) }
        mounted.append(target)
        return target
    }

    func unmount(_ target: String) throws {
        try Shell.check(["umount", target])
        mounted.removeAll { $0 == target }
    }

    deinit {
        for target in mounted.reversed() { _ = try? Shell.run(["umount", "-l", target]) }
    }
}

func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

func read(_ path: String) -> String? {
    try? String(contentsOfFile: path, encoding: .utf8)
}
