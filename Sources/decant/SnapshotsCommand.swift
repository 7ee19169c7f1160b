import ArgumentParser
import DecantStore
import Foundation

/// `decant snapshots`: containerd's snapshotter API from the command line, in `ctr`'s argument order.
struct SnapshotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots", abstract: "Overlay and native snapshots.",
        subcommands: [List.self, Tree.self, Info.self, Prepare.self, View.self, Commit.self, Remove.self,
                      Mounts.self, Usage.self, Label.self, Cleanup.self])

    struct Selection: ParsableArguments {
        @OptionGroup var store: StoreOptions
        @Option(name: .long, help: "overlayfs (default) or native.") var snapshotter = "overlayfs"

        func run(_ body: (Store, any Snapshotter) throws -> Void) throws {
            try store.run { store in try body(store, try store.snapshotter(snapshotter)) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List snapshots.")
        @OptionGroup var selection: Selection
        @Argument(help: "Filters on name, parent, kind, labels.KEY; any may match.") var filters: [String] = []

        func run() throws {
            try selection.run { _, snapshotter in
                let infos = try snapshotter.walk(filters: try filters.map { try Filter($0) })
                try selection.store.print(infos) {
                    Table.render(["KEY", "PARENT", "KIND"], infos.map { [$0.name, $0.parent ?? "", $0.kind.rawValue] })
                }
            }
        }
    }

    struct Tree: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "tree", abstract: "Show snapshots as a tree of parents.")
        @OptionGroup var selection: Selection

        func run() throws {
            try selection.run { _, snapshotter in
                let infos = try snapshotter.walk(filters: [])
                let children = Dictionary(grouping: infos, by: { $0.parent ?? "" })
                var text = ""
                func show(_ parent: String, _ depth: Int) {
                    for info in (children[parent] ?? []).sorted(by: { $0.name < $1.name }) {
                        text += String(repeating: "  ", count: depth) + "\\_ " + info.name + " (\(info.kind.rawValue))\n"
                        show(info.name, depth + 1)
                    }
                }
                show("", 0)
                try selection.store.print(infos) { text }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "info", abstract: "Show a snapshot.")
        @OptionGroup var selection: Selection
        @Argument var key: String

        func run() throws {
            try selection.run { _, snapshotter in
                let info = try snapshotter.stat(key)
                try selection.store.print(info) {
                    "name     \(info.name)\nkind     \(info.kind.rawValue)\nparent   \(info.parent ?? "-")\ncreated  \(info.createdAt)\nupdated  \(info.updatedAt)\nlabels   \(Table.labels(info.labels))\n"
                }
            }
        }
    }

    struct Prepare: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "prepare", abstract: "Create a writable snapshot.")
        @OptionGroup var selection: Selection
        @Option(name: .long, help: "KEY=VALUE labels.") var label: [String] = []
        @Argument var key: String
        @Argument var parent: String?

        func run() throws {
            let labels = try parseLabels(label)
            try selection.run { _, snapshotter in
                let mounts = try snapshotter.prepare(key, parent: parent, labels: labels)
                try selection.store.print(mounts) { "" }
            }
        }
    }

    struct View: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "view", abstract: "Create a read-only snapshot of PARENT.")
        @OptionGroup var selection: Selection
        @Option(name: .long, help: "KEY=VALUE labels.") var label: [String] = []
        @Argument var key: String
        @Argument var parent: String

        func run() throws {
            let labels = try parseLabels(label)
            try selection.run { _, snapshotter in
                let mounts = try snapshotter.view(key, parent: parent, labels: labels)
                try selection.store.print(mounts) { "" }
            }
        }
    }

    struct Commit: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "commit", abstract: "Commit the active snapshot KEY as NAME.")
        @OptionGroup var selection: Selection
        @Option(name: .long, help: "Give a snapshot prepared without a parent its parent now (rebase).") var parent: String?
        @Option(name: .long, help: "KEY=VALUE labels.") var label: [String] = []
        @Argument var name: String
        @Argument var key: String

        func run() throws {
            let labels = try parseLabels(label)
            try selection.run { _, snapshotter in
                try snapshotter.commit(name: name, key: key, parent: parent, labels: labels, usage: nil)
                try selection.store.print(try snapshotter.stat(name)) { "" }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove snapshots without children.")
        @OptionGroup var selection: Selection
        @Argument var keys: [String]

        func run() throws {
            try selection.run { _, snapshotter in
                for key in keys {
                    try snapshotter.remove(key)
                    if !selection.store.json { print(key) }
                }
            }
        }
    }

    struct Mounts: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "mounts", abstract: "Print the mount command for KEY at TARGET.")
        @OptionGroup var selection: Selection
        @Argument var target: String
        @Argument var key: String

        func run() throws {
            try selection.run { _, snapshotter in
                let mounts = try snapshotter.mounts(key)
                // The command may run from the layers' directory: the target must not depend on where.
                let absolute = URL(fileURLWithPath: target).standardizedFileURL.path
                try selection.store.print(mounts) { mounts.map { $0.command(target: absolute) + "\n" }.joined() }
            }
        }
    }

    struct Usage: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "usage", abstract: "Disk usage of snapshots.")
        @OptionGroup var selection: Selection
        @Argument var keys: [String] = []

        struct Row: Encodable {
            var key: String
            var size: Int64
            var inodes: Int64
        }

        func run() throws {
            try selection.run { _, snapshotter in
                let keys = keys.isEmpty ? try snapshotter.walk(filters: []).map(\.name) : keys
                let rows = try keys.map { key in
                    let usage = try snapshotter.usage(key)
                    return Row(key: key, size: usage.size, inodes: usage.inodes)
                }
                try selection.store.print(rows) {
                    Table.render(["KEY", "SIZE", "INODES"], rows.map { [$0.key, Table.size($0.size), String($0.inodes)] })
                }
            }
        }
    }

    struct Label: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "label", abstract: "Set (KEY=VALUE) or remove (KEY=) labels.")
        @OptionGroup var selection: Selection
        @Argument var key: String
        @Argument var labels: [String]

        func run() throws {
            let labels = try parseLabels(labels)
            try selection.run { _, snapshotter in
                let info = try snapshotter.update(key, labels: labels, fieldPaths: labels.keys.map { "labels." + $0 })
                try selection.store.print(info) { Table.labels(info.labels) + "\n" }
            }
        }
    }

    struct Cleanup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cleanup", abstract: "Remove snapshot directories no metadata points to.")
        @OptionGroup var selection: Selection

        func run() throws {
            try selection.run { _, snapshotter in
                let removed = try snapshotter.cleanup()
                try selection.store.print(removed) { removed.map { $0 + "\n" }.joined() }
            }
        }
    }
}
