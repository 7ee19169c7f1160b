import ArgumentParser
import DecantOCI
import DecantStore
import Foundation

/// `decant content`: blobs by digest, as `ctr content`.
struct ContentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "content", abstract: "Blobs in the content store.",
        subcommands: [List.self, Info.self, Remove.self, Label.self, Ingest.self, Abort.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List blobs (or partial ingests).")
        @OptionGroup var store: StoreOptions
        @Flag(name: .long, help: "List partial writes instead of blobs.") var ingests = false
        @Argument(help: "Filters, e.g. 'labels.\"containerd.io/gc.root\"' or 'size==42'; any may match.") var filters: [String] = []

        func run() throws {
            try store.run { store in
                if ingests {
                    let statuses = try store.content.ingests()
                    try self.store.print(statuses) {
                        Table.render(["REF", "OFFSET", "TOTAL", "EXPECTED"], statuses.map {
                            [$0.ref, String($0.offset), $0.total.map(String.init) ?? "-", $0.expected?.description ?? "-"]
                        })
                    }
                    return
                }
                let infos = try store.content.list(filters: try filters.map { try Filter($0) })
                try self.store.print(infos) {
                    Table.render(["DIGEST", "SIZE", "AGE", "LABELS"], infos.map {
                        [$0.digest.description, Table.size($0.size), age($0.createdAt), Table.labels($0.labels)]
                    })
                }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "info", abstract: "Show a blob's size and labels.")
        @OptionGroup var store: StoreOptions
        @Argument var digest: String

        func run() throws {
            try store.run { store in
                let info = try store.content.info(try parseDigest(digest))
                try self.store.print(info) {
                    "digest   \(info.digest)\nsize     \(info.size)\ncreated  \(info.createdAt)\nupdated  \(info.updatedAt)\nlabels   \(Table.labels(info.labels))\n"
                }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete blobs.")
        @OptionGroup var store: StoreOptions
        @Argument var digests: [String]

        func run() throws {
            try store.run { store in
                for digest in digests {
                    try store.content.delete(try parseDigest(digest))
                    if !self.store.json { print(digest) }
                }
            }
        }
    }

    struct Abort: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "abort",
            abstract: "Drop partial writes (as listed by 'content ls --ingests'), unless a writer holds them now.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "Refs of partial writes.") var refs: [String]

        func run() throws {
            try store.run { store in
                for ref in refs {
                    try store.content.abort(ref: ref)
                    if !self.store.json { print(ref) }
                }
            }
        }
    }

    struct Label: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "label", abstract: "Set (KEY=VALUE) or remove (KEY=) labels of a blob.")
        @OptionGroup var store: StoreOptions
        @Argument var digest: String
        @Argument var labels: [String]

        func run() throws {
            let labels = try parseLabels(labels)
            try store.run { store in
                let info = try store.content.update(try parseDigest(digest), labels: labels,
                                                    fieldPaths: labels.keys.map { "labels." + $0 })
                try self.store.print(info) { Table.labels(info.labels) + "\n" }
            }
        }
    }

    struct Ingest: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ingest",
            abstract: "Write a blob from standard input under REF, resuming a partial ingest of REF, and commit it.")
        @OptionGroup var store: StoreOptions
        @Option(name: .long, help: "The digest the bytes must have.") var expectedDigest: String?
        @Option(name: .long, help: "The size the bytes must have.") var expectedSize: Int64?
        @Argument var ref: String

        func run() throws {
            try store.run { store in
                let expected = try expectedDigest.map(parseDigest)
                let writer = try store.content.writer(ref: ref, expected: expected, total: expectedSize)
                // A resumed ingest already holds `offset` bytes: skip that many of the input.
                var skip = writer.offset
                let input = FileHandle.standardInput
                while true {
                    let data = input.readData(ofLength: 1 << 20)
                    if data.isEmpty { break }
                    var bytes = [UInt8](data)
                    if skip > 0 {
                        let dropped = min(Int64(bytes.count), skip)
                        bytes.removeFirst(Int(dropped))
                        skip -= dropped
                    }
                    if !bytes.isEmpty { try writer.write(bytes) }
                }
                let info = try writer.commit()
                try self.store.print(info) { "\(info.digest)\n" }
            }
        }
    }
}

func parseDigest(_ text: String) throws -> Digest {
    guard let digest = Digest(text) else {
        throw StoreError(.invalidArgument, "\(text.debugDescription) is not a sha256 digest (sha256:<64 hex digits>)")
    }
    return digest
}

func age(_ date: Date) -> String {
    let seconds = Int(-date.timeIntervalSinceNow)
    if seconds < 60 { return "\(seconds) seconds" }
    if seconds < 3600 { return "\(seconds / 60) minutes" }
    if seconds < 86400 { return "\(seconds / 3600) hours" }
    return "\(seconds / 86400) days"
}
