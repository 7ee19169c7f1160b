import ArgumentParser
import Decant
import DecantArchive
import DecantOCI
import DecantStore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `decant pull`: fetch an image into the store and unpack it into snapshots.
struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Pull an image into the store and unpack every layer into a snapshot, in parallel.",
        discussion: """
            REF is oci:PATH[:TAG|@DIGEST], oci-archive:FILE[:TAG|@DIGEST] or docker-archive:FILE[:REPO:TAG]. \
            With --json, events are JSON lines and the last line is the summary: per layer (bottom first) \
            its digest, diff_id, chainID, snapshot key, whether it was unpacked or reused, and its directory.
            """)

    @OptionGroup var store: StoreOptions
    @Option(name: .long, help: "overlayfs or native.") var snapshotter = "overlayfs"
    @Option(name: .long, help: "os/arch[/variant] to pick from an index (default: this machine's).") var platform: String?
    @Option(name: .long, help: "Layers extracted at once (default: the number of cores).") var unpackConcurrency = PullOptions.defaultConcurrency
    @Option(name: .long, help: "fs: syncfs each snapshot before committing it; none: leave it to the kernel.") var sync = "fs"
    @Option(name: .long, help: "gzip implementation: isal or zlib.") var gzip: GzipImplementation = .isal
    @Option(name: .long, help: "File I/O backend: syscalls or uring.") var io: FileIOBackend = .syscalls
    @Option(name: .long, help: "Also append events as JSON lines to FILE.") var events: String?
    @Argument var reference: String

    func run() async throws {
        guard let syncMode = PullOptions.SyncMode(rawValue: sync) else { throw ValidationError("--sync is fs or none") }
        let platform = try self.platform.map { try Platform(parsing: $0) }
        let store: Store
        do {
            store = try self.store.open()
        } catch let error as StoreError {
            Output.printError(error.description)
            throw ExitCode(1)
        }
        var sinks: [any EventSink] = [try JSONLinesEventSink(path: store.layout.root + "/events.log")]
        if let events { sinks.append(try JSONLinesEventSink(path: events)) }
        if self.store.json { sinks.append(JSONLinesEventSink(handle: .standardOutput)) } else { sinks.append(ProgressPrinter()) }
        let options = PullOptions(snapshotter: snapshotter, platform: platform, unpackConcurrency: unpackConcurrency,
                                  sync: syncMode, gzip: gzip, io: io, events: EventFanOut(sinks))
        let puller = Puller(store: store)
        let reference = reference
        let task = Task { () async -> Result<PullResult, PullError> in
            do throws(PullError) {
                return .success(try await puller.pull(reference, options: options))
            } catch {
                return .failure(error)
            }
        }
        // Ctrl-C (or SIGTERM) cancels the pull, which removes what it prepared before exiting.
        let interrupts = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber)
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        let outcome = await task.value
        interrupts.forEach { $0.cancel() }
        switch outcome {
        case .success(let result):
            if self.store.json { try Output.printJSON(result) } else { Output.printSummary(result) }
        case .failure(let error):
            if self.store.json { try? Output.printJSON(StoreFailure(code: error.code, message: error.description)) }
            Output.printError(error.description)
            throw ExitCode(1)
        }
    }
}
