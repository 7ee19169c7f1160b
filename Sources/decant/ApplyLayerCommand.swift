import ArgumentParser
import DecantArchive
import DecantIO
import DecantOCI
import Foundation
import Logging
import SystemPackage

/// `decant apply-layer`: containerd's `diff.Apply` from the command line.
struct ApplyLayerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply-layer",
        abstract: "Apply one layer blob into a directory as an overlayfs upper dir (or naively).",
        discussion: """
            Prints the blob's digest, the diff_id (digest of the uncompressed tar), entry counts and \
            the disk usage created. On failure the exit status is non-zero, the error names the layer \
            and the entry, and DIR holds a partial layer: discard it.
            """
    )

    @Option(name: .long, help: "The layer's declared media type; the bytes must match it. Default: detect from the bytes.")
    var mediaType: String?

    @Flag(name: .long, help: "Delete what whiteouts name instead of writing overlay markers (bottom layers, native snapshots).")
    var naive = false

    @Option(name: .long, help: "gzip implementation: isal or zlib.")
    var gzip: GzipImplementation = .isal

    @Option(name: .long, help: "File I/O backend: syscalls or uring.")
    var io: FileIOBackend = .syscalls

    @Flag(name: .long, help: "Print the result (or the error) as one JSON object.")
    var json = false

    @Argument(help: "The layer blob.")
    var blob: String

    @Argument(help: "The target directory; it must exist.")
    var directory: String

    func run() throws {
        let options = ApplyOptions(layerName: blob, mediaType: mediaType.map { MediaType($0) },
                                   whiteouts: naive ? .naive : .overlay, gzip: gzip, io: io)
        let start = ContinuousClock.now
        let result: LayerApplyResult
        do {
            let source = try openSource()
            result = try LayerApplier.apply(from: source, into: FilePath(directory), options: options)
        } catch {
            if json { try Output.printJSON(ApplyFailure(error: error, directory: directory)) }
            Output.printError("\(error)")
            Output.printError("the directory \(directory) holds a partial layer: discard it")
            throw ExitCode(1)
        }
        let seconds = (ContinuousClock.now - start).seconds
        if json {
            try Output.printJSON(ApplyReport(result: result, directory: directory, seconds: seconds))
        } else {
            Output.printHuman(result, directory: directory, seconds: seconds)
        }
    }

    private func openSource() throws(LayerError) -> FileByteSource {
        do {
            return try FileByteSource(path: FilePath(blob))
        } catch {
            throw LayerError(.source, layer: blob, message: "cannot open the blob", cause: error)
        }
    }
}

extension GzipImplementation: ExpressibleByArgument {}
extension FileIOBackend: ExpressibleByArgument {}
