import ArgumentParser
import DecantStore
import Foundation

/// `decant leases`: what protects in-flight work from garbage collection.
struct LeasesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leases", abstract: "Leases that protect content and snapshots from GC.",
        subcommands: [List.self, Create.self, Remove.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List leases.")
        @OptionGroup var store: StoreOptions
        @Argument var filters: [String] = []

        func run() throws {
            try store.run { store in
                let leases = try store.leases.list(filters: try filters.map { try Filter($0) }, holders: true)
                try self.store.print(leases) {
                    Table.render(["ID", "CREATED", "EXPIRES", "HOLDER", "RESOURCES", "LABELS"], leases.map {
                        [$0.id, $0.createdAt.description, $0.expiresAt?.description ?? "-",
                         $0.holder.map { $0 == .none ? "-" : $0.rawValue } ?? "-", String($0.resources.count),
                         Table.labels($0.labels)]
                    })
                }
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a lease.")
        @OptionGroup var store: StoreOptions
        @Option(name: .long, help: "The lease id (default: random).") var id: String?
        @Option(name: .long, help: "Seconds until it expires (default: never).") var expiresIn: Double?
        @Option(name: .long, help: "KEY=VALUE labels.") var label: [String] = []

        func run() throws {
            let labels = try parseLabels(label)
            try store.run { store in
                let lease = try store.leases.create(id: id, labels: labels, expiration: expiresIn)
                try self.store.print(lease) { lease.id + "\n" }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete leases.")
        @OptionGroup var store: StoreOptions
        @Argument var ids: [String]

        func run() throws {
            try store.run { store in
                for id in ids {
                    try store.leases.delete(id)
                    if !self.store.json { print(id) }
                }
            }
        }
    }
}

/// `decant gc`: remove what nothing references.
struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Remove content and snapshots that no image, lease or root label references.")
    @OptionGroup var store: StoreOptions
    @Flag(name: .long, help: "Show what would be removed, remove nothing.") var dryRun = false
    @Option(name: .long, help: "Remove partial blobs (ingests) nobody has written for this many seconds.")
    var ingestExpiry = GarbageCollector.defaultIngestExpiry

    func run() throws {
        try store.run { store in
            let report = try GarbageCollector(store: store).collect(dryRun: dryRun, ingestExpiry: ingestExpiry)
            try self.store.print(report) {
                let verb = dryRun ? "would remove" : "removed"
                var text = report.content.map { "\(verb) content \($0.digest) (\(Table.size($0.size)))\n" }.joined()
                text += report.snapshots.map { "\(verb) snapshot \($0.snapshotter)/\($0.key) (\(Table.size($0.size)))\n" }.joined()
                text += report.expiredLeases.map { "\(verb) expired lease \($0)\n" }.joined()
                text += report.abandonedLeases.map { "\(verb) lease \($0): the process holding it has ended\n" }.joined()
                text += report.ingests.map { "\(verb) stale ingest \($0)\n" }.joined()
                text += report.snapshotDirectories.map { "removed \($0), left by an interrupted snapshot removal\n" }.joined()
                text += "\(report.content.count) blobs, \(report.snapshots.count) snapshots, \(Table.size(report.bytesFreed)) \(dryRun ? "would be freed" : "freed")\n"
                return text
            }
        }
    }
}
