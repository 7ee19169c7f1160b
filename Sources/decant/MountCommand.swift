import ArgumentParser
import Decant
import DecantStore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `decant mount REF DIR [--rw]`: an image's root filesystem as an overlay mount.
struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount", abstract: "Mount an image's rootfs at DIR (read-only, or on a writable snapshot with --rw).")
    @OptionGroup var store: StoreOptions
    @Option(name: .long, help: "overlayfs or native.") var snapshotter = "overlayfs"
    @Flag(name: .long, help: "Prepare a writable snapshot on top and mount that.") var rw = false
    @Argument var reference: String
    @Argument var directory: String

    static let targetLabel = "decant.io/mount.target"

    func run() throws {
        let target = URL(fileURLWithPath: directory).standardizedFileURL.path
        try store.run { store in
            let inspection = try ImageInspection(store: store, name: ImageNames.recorded(reference, in: store), snapshotter: snapshotter)
            guard let top = inspection.top, inspection.layers.allSatisfy({ $0.snapshot != nil }) else {
                throw StoreError(.failedPrecondition, "image \(reference) is not unpacked in \(snapshotter): pull it first")
            }
            let snapshots = try store.snapshotter(snapshotter)
            let key = "mount-\(UUID().uuidString.lowercased().prefix(12))"
            let labels = [Self.targetLabel: target]
            let mounts = rw ? try snapshots.prepare(key, parent: top.description, labels: labels)
                : try snapshots.view(key, parent: top.description, labels: labels)
            for mount in mounts {
                do {
                    try mount.mount(at: target)
                } catch {
                    try? snapshots.remove(key)
                    throw StoreError(.io, "cannot mount \(reference) at \(target) (\(mount.type)): \(error)")
                }
            }
            try self.store.print(["snapshot": key, "target": target]) { "\(reference) mounted at \(target) (snapshot \(key))\n" }
        }
    }
}

/// `decant unmount DIR`: undo `decant mount`, removing the snapshot it made.
struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unmount", abstract: "Unmount DIR and remove its mount snapshot.")
    @OptionGroup var store: StoreOptions
    @Argument var directory: String

    func run() throws {
        let target = URL(fileURLWithPath: directory).standardizedFileURL.path
        try store.run { store in
            if umount2(target, 0) != 0 && errno != EINVAL {
                throw StoreError(.io, "umount \(target) failed: \(String(cString: strerror(errno)))")
            }
            var removed: [String] = []
            for snapshots in store.snapshotters {
                for info in try snapshots.walk(filters: [try Filter("labels.\"\(MountCommand.targetLabel)\"==\(target)")]) {
                    try snapshots.remove(info.name)
                    removed.append(info.name)
                }
            }
            try self.store.print(removed) { "unmounted \(target)\n" }
        }
    }
}

/// `decant events`: what pulls recorded in the store's event log.
struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Print the store's events as JSON lines.")
    @OptionGroup var store: StoreOptions
    @Flag(name: .long, help: "Keep printing new events as they come.") var follow = false

    func run() throws {
        let layout = StoreLayout.resolve(store.root)
        // The log before the last rotation first (see `decant pull`), then the current one.
        if let previous = FileHandle(forReadingAtPath: layout.previousEventLog) {
            try copy(previous, following: false)
        }
        guard let current = FileHandle(forReadingAtPath: layout.eventLog) else { return }
        try copy(current, following: follow)
    }

    private func copy(_ handle: FileHandle, following: Bool) throws {
        while true {
            let data = handle.availableData
            if !data.isEmpty {
                do {
                    try Output.write(data, to: .standardOutput, name: "standard output")
                } catch {
                    Output.printError("cannot print the events: \(error)")
                    throw ExitCode(1)
                }
            } else if following {
                Thread.sleep(forTimeInterval: 0.2)
            } else {
                return
            }
        }
    }
}
