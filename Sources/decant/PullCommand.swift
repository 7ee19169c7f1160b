import ArgumentParser
import Decant
import DecantArchive
import DecantOCI
import DecantRemote
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
            REF is a registry image ([HOST[:PORT]/]NAME[:TAG][@DIGEST], normalized as Docker does: alpine is \
            docker.io/library/alpine:latest), oci:PATH[:TAG|@DIGEST], oci-archive:FILE[:TAG|@DIGEST] or \
            docker-archive:FILE[:REPO:TAG]. Registry hosts are configured (mirrors, CA files, plain HTTP) by \
            DIR/HOST/hosts.toml files as in containerd's certs.d (--hosts-dir, default /etc/decant/certs.d); \
            credentials come from --user or Docker's config.json (auths, credHelpers, credsStore). \
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
    @Flag(name: .long, help: "Copy an OCI layout's layer blobs into the content store instead of hard-linking them (done where the layout is on the store's filesystem, owned by this user and writable by nobody else); for layouts whose files get rewritten in place.") var copyBlobs = false
    @Flag(name: .long, help: "Keep the layer blobs this pull unpacks out of the content store: each streams from the source through verification into its snapshot and is never written as a blob (containerd's discard_unpacked_layers, without the write). Saves their disk space and writes; the store then cannot serve those layers again.") var discardUnpackedLayers = false
    @Flag(inversion: .prefixedNo, help: "With --sync fs, write files of 4 MiB and more with direct I/O, past the page cache: the flush before each commit writes them anyway, and they do not evict what the machine caches. --no-direct-io leaves them in the page cache after the pull (read soon, e.g. started at once).") var directIO = true
    @Option(name: .long, help: "Write the pull's per-layer timeline (queued, extract with read/inflate/hash/write times, store, sync, commit) as JSON to FILE.") var trace: String?
    @Option(name: [.short, .long], help: "USER:PASSWORD for the image's registry.") var user: String?
    @Option(name: .long, help: "Directory of HOST/hosts.toml registry configurations.") var hostsDir = RegistryHosts.defaultDirectory
    @Flag(name: .long, help: "Talk plain HTTP to the image's registry (loopback hosts fall back to it by themselves).") var plainHTTP = false
    @Option(name: .long, help: "A PEM file of CA certificates to trust besides the system's (repeatable).") var caFile: [String] = []
    @Flag(name: [.customShort("k"), .long], help: "Do not verify registry TLS certificates.") var skipVerify = false
    @Option(name: .long, help: "The most registry layers downloaded at once: a pull starts with --unpack-concurrency and adds one at a time while the network keeps the transfers in flight waiting.") var maxConcurrentDownloads = 3
    @Option(name: .long, help: "Attempts per registry request (connection errors, 429, 5xx) and per broken transfer.") var retries = 5
    @Option(name: .long, help: "Seconds without a byte before a blob transfer is resumed on a new connection, or without an answer before a request is sent again.") var stallTimeout = 30.0
    @Argument var reference: String

    /// How big the store's event log grows before the next pull starts a new one (the previous
    /// one is kept as `events.log.1`): about 500 pulls of many-layer images.
    static let eventLogLimit: Int64 = 8 << 20

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
        var sinks: [any EventSink] = [try JSONLinesEventSink(path: store.layout.eventLog, rotatingAt: Self.eventLogLimit)]
        if let events { sinks.append(try JSONLinesEventSink(path: events)) }
        if self.store.json { sinks.append(JSONLinesEventSink(descriptor: .standardOutput)) } else { sinks.append(ProgressPrinter()) }
        var credential: RegistryCredential?
        if let user {
            do {
                credential = try RegistryCredential(parsing: user)
            } catch {
                throw ValidationError(error.message)
            }
        }
        let domain = try? ImageReference(parsing: reference).domain
        let registry = RegistryOptions(
            hosts: RegistryHosts(directory: hostsDir, plainHTTP: plainHTTP, caFiles: caFile, skipVerify: skipVerify),
            credentials: RegistryCredentials(explicit: credential, for: domain), maxAttempts: retries,
            stallTimeout: .milliseconds(Int(stallTimeout * 1000)))
        let options = PullOptions(snapshotter: snapshotter, platform: platform, unpackConcurrency: unpackConcurrency,
                                  sync: syncMode, gzip: gzip, io: io, events: EventFanOut(sinks),
                                  registry: registry, maxConcurrentDownloads: maxConcurrentDownloads,
                                  trace: trace.map { _ in PullTrace() }, linkLocalBlobs: !copyBlobs,
                                  discardUnpackedLayers: discardUnpackedLayers, directWrites: directIO)
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
        if let path = trace, let timeline = options.trace {
            let (image, failure): (String, String?) = switch outcome {
            case .success(let result): (result.image, nil)
            case .failure(let error): (error.image, error.description)
            }
            do {
                try timeline.write(to: path, image: image, error: failure)
            } catch {
                Output.printError("cannot write the trace to \(path): \(error)")
            }
        }
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
