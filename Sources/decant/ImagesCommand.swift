import ArgumentParser
import Decant
import DecantOCI
import DecantStore
import Foundation

/// `decant images`: the image records.
struct ImagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images", abstract: "Images in the store.", subcommands: [List.self, Inspect.self, Remove.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.")
        @OptionGroup var store: StoreOptions
        @Argument var filters: [String] = []

        func run() throws {
            try store.run { store in
                let images = try store.images.list(filters: try filters.map { try Filter($0) })
                try self.store.print(images) {
                    Table.render(["REF", "TYPE", "DIGEST", "SIZE"], images.map {
                        [$0.name, $0.mediaType, $0.digest, Table.size($0.size)]
                    })
                }
            }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show an image's manifest, config and snapshots.")
        @OptionGroup var store: StoreOptions
        @Argument var name: String

        func run() throws {
            try store.run { store in
                let inspection = try ImageInspection(store: store, name: ImageNames.recorded(name, in: store))
                try self.store.print(inspection) {
                    var text = "name      \(inspection.image.name)\ntarget    \(inspection.image.digest) (\(inspection.image.mediaType))\n"
                    text += "manifest  \(inspection.manifest)\nconfig    \(inspection.config)\n"
                    for layer in inspection.layers {
                        text += "layer     \(layer.digest)  chainID \(layer.chainID)  \(layer.snapshot ?? "not unpacked")\n"
                    }
                    return text
                }
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Delete image records (run gc to free their content and snapshots).")
        @OptionGroup var store: StoreOptions
        @Argument var names: [String]

        func run() throws {
            try store.run { store in
                for name in names {
                    try store.images.delete(ImageNames.recorded(name, in: store))
                    if !self.store.json { print(name) }
                }
            }
        }
    }
}
