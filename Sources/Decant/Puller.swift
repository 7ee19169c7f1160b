import DecantArchive
import DecantIO
import DecantOCI
import DecantRemote
import DecantStore
import Foundation
import Logging
import SystemPackage

/// containerd's `ctr image pull`, made parallel: fetch the image into the content store, unpack
/// every layer at once into its own snapshot, commit them in chain order, record the image.
public final class Puller: Sendable {
    public let store: Store
    let logger: Logger

    public init(store: Store, logger: Logger = Logger(label: "decant.pull")) {
        self.store = store
        self.logger = logger
    }

    /// Pulls `reference`: a registry image (`[HOST/]NAME[:TAG][@DIGEST]`, recorded under its
    /// normalized name), `oci:…`, `oci-archive:…` or `docker-archive:…`.
    ///
    /// Cancelling the calling task stops the layers being applied at their next entry and removes
    /// what the pull prepared, as any other failure does.
    public func pull(_ reference: String, options: PullOptions = PullOptions()) async throws(PullError) -> PullResult {
        let source: any ImageSource
        do {
            source = try ImageSources.open(reference, registry: options.registry, logger: logger)
        } catch {
            throw Self.describe(error, image: reference)
        }
        let pull = PullContext(reference: source.reference, store: store, options: options)
        let outcome: Result<PullResult, PullError>
        do {
            outcome = .success(try await withTaskCancellationHandler {
                try await run(pull, source: source)
            } onCancel: {
                pull.cancel()
            })
        } catch {
            outcome = .failure(Self.describe(error, image: source.reference))
        }
        await source.close()
        return try outcome.get()
    }

    private func run(_ pull: PullContext, source: any ImageSource) async throws -> PullResult {
        let start = ContinuousClock.now
        let reference = pull.reference
        let options = pull.options
        // Held: a pull that is killed leaves a lease the next collection deletes at once.
        let lease = try store.leases.createHeld(labels: ["decant.pull": reference], expiration: 24 * 3600)
        pull.lease = lease.id
        defer { try? lease.release() }
        do {
            let resolveStart = options.trace?.now() ?? 0
            let image = try await pull.fetchMetadata(from: source)
            options.trace?.record("resolve", since: resolveStart)
            for (index, layer) in image.manifest.layers.enumerated() {
                options.trace?.describe(layer: index, digest: layer.digest.description, size: layer.size)
            }
            let snapshotter = try store.snapshotter(options.snapshotter)
            options.events?.emit(Event(type: "unpack-start", image: reference,
                                       detail: ["layers": String(image.manifest.layers.count), "snapshotter": snapshotter.name]))
            let scheduler = UnpackScheduler(pull: pull, image: image, source: source, snapshotter: snapshotter)
            var layers = snapshotter.name == "native" ? try await scheduler.unpackSequentially() : try await scheduler.unpackInParallel()
            // Known only now: blobs are stored concurrently with the commits.
            for index in layers.indices { layers[index].blobStored = store.content.contains(layers[index].digest) }
            if let top = ChainID.chain(image.config.rootfs.diffIDs).last {
                let label = "containerd.io/gc.ref.snapshot.\(snapshotter.name)"
                try store.content.update(image.manifest.config.digest, labels: [label: top.description], fieldPaths: ["labels." + label])
            }
            let recordStart = options.trace?.now() ?? 0
            defer { options.trace?.record("record", since: recordStart) }
            let (record, created) = try store.images.createOrUpdate(ImageRecord(
                name: reference, mediaType: image.root.mediaType.rawValue, digest: image.root.digest.description, size: image.root.size))
            options.events?.emit(Event(type: created ? "image-create" : "image-update", image: record.name,
                                       detail: ["target": record.digest]))
            let seconds = (ContinuousClock.now - start).seconds
            let unpacked = layers.filter { $0.status == "unpacked" }
            let uncompressed = unpacked.compactMap(\.uncompressedSize).reduce(0, +)
            options.events?.emit(Event(type: "unpack-finish", image: reference, detail: ["seconds": String(format: "%.3f", seconds)]))
            return PullResult(
                image: reference, created: created, manifest: image.manifestDescriptor.digest, config: image.manifest.config.digest,
                platform: image.platform?.description, snapshotter: snapshotter.name, layers: layers,
                layersUnpacked: unpacked.count, layersReused: layers.count - unpacked.count,
                compressedBytes: unpacked.map(\.size).reduce(0, +), uncompressedBytes: uncompressed,
                files: unpacked.compactMap(\.files).reduce(0, +), seconds: seconds,
                megabytesPerSecond: Double(uncompressed) / 1_000_000 / max(seconds, 1e-9))
        } catch {
            pull.discardWhatItMade()
            throw error
        }
    }

    static func describe(_ error: any Error, image: String) -> PullError {
        switch error {
        case let error as PullError: return error
        case let error as RemoteError: return PullError(image: image, code: error.code.rawValue, message: error.message)
        case let error as StoreError: return PullError(image: image, code: error.code.rawValue, message: error.description)
        case let error as OCIError: return PullError(image: image, code: "unsupported", message: error.description)
        default: return PullError(image: image, code: "io", message: "\(error)")
        }
    }
}

/// The resolved image: root descriptor (manifest or index), the platform's manifest, its config.
struct ResolvedImage: Sendable {
    var root: Descriptor
    var manifestDescriptor: Descriptor
    var manifest: ImageManifest
    var config: ImageConfig
    var platform: Platform?
}

/// One pull's state: its lease, the blobs it added and the snapshots it committed (removed again
/// if it fails).
final class PullContext: @unchecked Sendable {
    let reference: String
    let store: Store
    let options: PullOptions
    var lease: String?
    /// Stops every layer being applied at its next entry: the pull failed, or was cancelled.
    let cancellation = CancellationFlag()
    private let lock = NSLock()
    private var added: [Digest] = []
    private var committed: [String] = []
    private var snapshotter: (any Snapshotter)?
    private var stoppedBy: PullError?
    private var onStop: [@Sendable () -> Void] = []

    init(reference: String, store: Store, options: PullOptions) {
        self.reference = reference
        self.store = store
        self.options = options
    }

    /// Puts `resources` under this pull's lease, so that a `gc` (in this process or another) keeps
    /// them until the image is recorded: what the pull is about to use that is there already, as
    /// well as what it makes. Called before the pull checks that they exist; waits for a
    /// collection that is running (``CollectionLock``), off the cooperative threads.
    func protect(_ resources: [LeaseResource]) async throws {
        guard let lease, !resources.isEmpty else { return }
        do {
            try await BlockingWork.run("decant-lease") { [store] in
                try store.collectionLock.excludingCollection { () throws(StoreError) in
                    try store.leases.addResources(resources, to: lease)
                }
            }
        } catch let error as StoreError {
            throw PullError(image: reference, code: error.code.rawValue, message: "cannot lease what the pull uses: \(error)")
        }
    }

    /// Stops the pull's other work at once because of `error`, which is then what the pull
    /// reports rather than the cancellations it caused (unless it was stopping already).
    func stop(because error: PullError) {
        let actions = lock.withLock {
            if stoppedBy == nil && !cancellation.isCancelled { stoppedBy = error }
            return stopping()
        }
        actions.forEach { $0() }
    }

    /// Stops the pull's work at once: it was cancelled, or failed and is cleaning up.
    func cancel() {
        lock.withLock { stopping() }.forEach { $0() }
    }

    /// Runs `action` once the pull stops (at once if it has): how work that waits on something
    /// other than a layer's next entry, such as another pull's claim on a layer, learns of it.
    func whenStopped(_ action: @escaping @Sendable () -> Void) {
        let stopped = lock.withLock {
            if !cancellation.isCancelled { onStop.append(action) }
            return cancellation.isCancelled
        }
        if stopped { action() }
    }

    /// Sets the flag and hands over the actions to run, outside the lock; called holding it.
    private func stopping() -> [@Sendable () -> Void] {
        cancellation.cancel()
        defer { onStop = [] }
        return onStop
    }

    /// The error that stopped the pull, if ``stop(because:)`` did.
    var stopCause: PullError? { lock.withLock { stoppedBy } }

    /// Notes a blob this pull stored (it was protected before), for ``discardWhatItMade()``.
    func noteAdded(_ digest: Digest) {
        lock.withLock { added.append(digest) }
    }

    /// Notes a snapshot this pull committed (its chainID was leased before), for
    /// ``discardWhatItMade()``.
    func noteCommitted(_ name: String, in snapshotter: any Snapshotter) {
        lock.withLock {
            self.snapshotter = snapshotter
            committed.append(name)
        }
    }

    /// After a failure: the snapshots this pull committed and the blobs it stored go again, so a
    /// failed pull leaves the store as it found it. Except what another pull may be building on
    /// by now: what another lease holds (a pull here or in another process that found it and
    /// uses it) or an image references (one such pull that has finished). Decided and removed
    /// as a collection does (``GarbageCollector/discard(snapshots:in:content:ownLease:)``).
    func discardWhatItMade() {
        let (added, committed, snapshotter) = lock.withLock { (self.added, self.committed, self.snapshotter) }
        guard !added.isEmpty || !committed.isEmpty else { return }
        let report = try? GarbageCollector(store: store).discard(content: added, snapshots: committed, in: snapshotter,
                                                                 ownLease: lease)
        for removed in report?.snapshots ?? [] {
            options.events?.emit(Event(type: "snapshot-remove", image: reference, snapshot: removed.key))
        }
    }

    /// Stores a small blob (manifest, index, config) from `source`, verified, unless it is there.
    func storeSmall(_ descriptor: Descriptor, from source: any ImageSource, labels: [String: String] = [:]) async throws -> Data {
        let data = try await source.fetch(descriptor)
        try await protect([LeaseResource(type: "content", id: descriptor.digest.description)])
        while !store.content.contains(descriptor.digest) {
            let writer: IngestWriter
            do {
                writer = try store.content.writer(ref: "pull-" + descriptor.digest.description, expected: descriptor.digest,
                                                  total: descriptor.size)
            } catch where error.code == .unavailable {
                // Another process is storing the same blob (a second pull of the image): it is
                // there once that one commits, or free to write once it gave up. containerd
                // waits the same way.
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            if writer.offset > 0 {
                // An earlier pull's, stopped before its commit: the blob is small and in hand.
                writer.discard()
                continue
            }
            try writer.write([UInt8](data))
            try writer.commit(labels: labels)
            noteAdded(descriptor.digest)
        }
        return data
    }

    func fetchMetadata(from source: any ImageSource) async throws -> ResolvedImage {
        let root = try await source.resolve()
        let rootData = try await storeSmall(root, from: source)
        var manifestDescriptor = root
        var manifestData = rootData
        var platform: Platform?
        if case .index(let index) = try ManifestDocument.decode(rootData, mediaType: root.mediaType) {
            let wanted = options.platform ?? Platform.host
            guard let (position, chosen) = index.manifests.enumerated().first(where: { $0.element.platform.map(wanted.matches) ?? false }) else {
                let offered = index.manifests.compactMap { $0.platform?.description }
                throw PullError(image: reference, code: "not-found",
                                message: "no image for platform \(wanted) in the index (it has: \(offered.joined(separator: ", ")))")
            }
            manifestDescriptor = chosen
            platform = chosen.platform
            manifestData = try await storeSmall(chosen, from: source)
            try store.content.update(root.digest, labels: ["containerd.io/gc.ref.content.m.\(position)": chosen.digest.description],
                                     fieldPaths: ["labels.containerd.io/gc.ref.content.m.\(position)"])
        }
        guard case .manifest(let manifest) = try ManifestDocument.decode(manifestData, mediaType: manifestDescriptor.mediaType) else {
            throw PullError(image: reference, code: "unsupported", message: "an index inside an index is not supported")
        }
        let configData = try await storeSmall(manifest.config, from: source)
        let config: ImageConfig
        do {
            config = try JSONDecoder().decode(ImageConfig.self, from: configData)
        } catch {
            let cause = (error as? DecodingError)?.summary ?? "\(error)"
            throw PullError(image: reference, code: "unsupported", message: "config \(manifest.config.digest) is not an image config: \(cause)")
        }
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw PullError(image: reference, code: "invalid-argument",
                            message: "the manifest lists \(manifest.layers.count) layers but the config \(config.rootfs.diffIDs.count) diff_ids")
        }
        for layer in manifest.layers where layer.mediaType.declaredLayerCompression == nil {
            throw PullError(image: reference, layer: layer.digest.description, code: "unsupported",
                            message: "unsupported layer media type \(layer.mediaType)")
        }
        var references = ["containerd.io/gc.ref.content.config": manifest.config.digest.description]
        for (index, layer) in manifest.layers.enumerated() {
            references["containerd.io/gc.ref.content.l.\(index)"] = layer.digest.description
        }
        try store.content.update(manifestDescriptor.digest, labels: references, fieldPaths: references.keys.map { "labels." + $0 })
        return ResolvedImage(root: root, manifestDescriptor: manifestDescriptor, manifest: manifest, config: config, platform: platform)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
