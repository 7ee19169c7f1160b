import ArgumentParser

/// The `decant` command line.
@main
struct Decant: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decant",
        abstract: "Pull container images and unpack them into overlayfs snapshots, fast.",
        subcommands: [PullCommand.self, ImagesCommand.self, MountCommand.self, UnmountCommand.self, EventsCommand.self,
                      ApplyLayerCommand.self, ContentCommand.self, SnapshotsCommand.self, LeasesCommand.self, GCCommand.self]
    )
}
