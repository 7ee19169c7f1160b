import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// The `decant` command line.
@main
struct Decant: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decant",
        abstract: "Pull container images and unpack them into overlayfs snapshots, fast.",
        subcommands: [PullCommand.self, ImagesCommand.self, MountCommand.self, UnmountCommand.self, EventsCommand.self,
                      ApplyLayerCommand.self, ContentCommand.self, SnapshotsCommand.self, LeasesCommand.self, GCCommand.self]
    )

    static func main() async {
        // A reader that goes away (`decant pull --json | head -1`) would end the process with
        // SIGPIPE in the middle of a pull, its snapshots half made. Ignored, the write fails with
        // EPIPE instead: the output says so, the pull completes, and the command fails.
        signal(SIGPIPE, SIG_IGN)
        await main(nil)
    }
}
