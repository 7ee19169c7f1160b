import DecantArchive
import DecantIO
import DecantOCI
import DecantRemote
import DecantStore
import Foundation
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Unpacks one image's layers into snapshots.
///
/// Overlay: every layer not yet committed is extracted at the same time (up to the concurrency
/// limit, biggest first) into its own parentless active snapshot, straight from its blob; then
/// the layers are committed strictly in chain order, each once its parent is committed, after its
/// diff_id was checked and its implicit directories were given their parents' attributes. Native:
/// one layer after the other, each onto a copy of its parent.
struct UnpackScheduler: Sendable {
    let pull: PullContext
    let image: ResolvedImage
    let source: any ImageSource
    let snapshotter: any Snapshotter

    let progress = ProgressBoard()
    private let lineage = SnapshotLineage()
    private let flushHandles = FlushHandles()

    private var store: Store { pull.store }
    private var options: PullOptions { pull.options }
    private var reference: String { pull.reference }

    /// What extracting one layer produced.
    enum Extraction: Sendable {
        /// `store`: the layer's blob, verified, still to be made durable and visible.
        case extracted(key: String, result: LayerApplyResult, seconds: Double, store: PendingStore?)
        /// Someone committed the chainID meanwhile.
        case reused
    }

    func unpackInParallel() async throws -> [PullResult.Layer] {
        let layers = image.manifest.layers
        let diffIDs = image.config.rootfs.diffIDs
        let chain = ChainID.chain(diffIDs)
        try await protect(chain)
        let active = KeySet()
        let transfers = TransferBoard()

        // Claims are settled whatever happens, so other pulls waiting on them go on.
        let claimed = KeySet()
        var tasks: [Int: Task<Extraction, any Error>] = [:]
        // Blobs are fsynced into the content store outside the concurrency slot: the next layer's
        // extraction need not wait for the disk. The image is recorded only once all are stored.
        let stores = TaskList()
        // Biggest first: the largest layer is the critical path. The layers no other pull in this
        // process is unpacking get their turns in that order now; the others wait for that pull
        // and, if it fails, queue after them.
        let order = layers.indices.filter { !isCommitted(chain[$0]) }.sorted { layers[$0].size > layers[$1].size }
        var tickets: [Int: Int] = [:]
        for index in order {
            let claimKey = store.layout.root + " " + chain[index].description
            if await UnpackCoordinator.shared.tryClaim(claimKey) {
                claimed.insert(claimKey)
                tickets[index] = tickets.count
            }
        }
        let limiter = AsyncLimiter(limit: max(1, options.unpackConcurrency), tickets: tickets.count)
        for index in order {
            tasks[index] = Task { [ticket = tickets[index]] in
                if ticket == nil {
                    let claimKey = store.layout.root + " " + chain[index].description
                    if try await claim(claimKey, layer: layers[index].digest.description) { return .reused }
                    claimed.insert(claimKey)
                }
                let queuedAt = options.trace?.now() ?? 0
                await limiter.acquire(ticket: ticket)
                options.trace?.record("queued", layer: index, since: queuedAt)
                let outcome: Result<Extraction, any Error>
                do {
                    try Task.checkCancellation()
                    outcome = .success(try await extract(
                        index: index, layer: layers[index], diffID: diffIDs[index], chainID: chain[index],
                        whiteouts: index == 0 ? WhiteoutMode.naive : WhiteoutMode.overlay, parent: nil, active: active,
                        transfers: transfers))
                } catch {
                    outcome = .failure(error)
                    // The pull fails with the first layer that does: the others stop now, also
                    // one waiting for another pull's claim, instead of running on to be removed.
                    if !(error is CancellationError), (error as? PullError)?.code != "cancelled" {
                        pull.stop(because: Puller.describe(error, image: reference))
                    }
                }
                await limiter.release()
                let extraction = try outcome.get()
                if case .extracted(_, _, _, let pending?) = extraction {
                    stores.append(Task { try await storeBlob(pending, index: index) })
                }
                return extraction
            }
            pull.whenStopped { [task = tasks[index]!] in task.cancel() }
        }

        // Progress every quarter second while layers are being read, and more layers at once
        // while the network keeps the ones in flight waiting.
        let ticker = Task { [progress, options, reference, isRemote = source.isRemote] in
            var admission = isRemote
                ? DownloadAdmission(floor: options.unpackConcurrency, ceiling: options.maxConcurrentDownloads) : nil
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                if Task.isCancelled { break }
                for event in progress.events(image: reference) { options.events?.emit(event) }
                guard admission != nil else { continue }
                let queued = await limiter.waiting > 0
                if admission?.admitsAnother(at: .now, waiting: transfers.readerWaiting, queued: queued) == true {
                    await limiter.raise()
                    options.events?.emit(Event(type: "unpack-concurrency", image: reference,
                                               detail: ["limit": String(admission?.limit ?? 0), "reason": "network"]))
                }
            }
        }
        // Ended and awaited before the pull returns: an event it emitted later would follow the
        // summary that `--json` prints last.
        func stopTicker() async {
            ticker.cancel()
            await ticker.value
        }

        var results: [PullResult.Layer] = []
        do {
            for index in layers.indices {
                guard let task = tasks[index] else {
                    results.append(try summary(index, status: "reused", extraction: nil))
                    options.events?.emit(Event(type: "layer-reused", image: reference, layer: layers[index].digest.description,
                                               snapshot: chain[index].description))
                    continue
                }
                let extraction = try await task.value
                let claimKey = store.layout.root + " " + chain[index].description
                guard case .extracted(let key, let result, let seconds, _) = extraction else {
                    // Committed by someone else: whoever waits on this pull's claim can use it too.
                    if claimed.all.contains(claimKey) {
                        await UnpackCoordinator.shared.finish(claimKey, committed: true)
                        claimed.remove(claimKey)
                    }
                    results.append(try summary(index, status: "reused", extraction: nil))
                    continue
                }
                if let trace = options.trace, let extracted = trace.end(of: "extract", layer: index) {
                    trace.record("wait-parent", layer: index, since: extracted)
                }
                // Stopped (cancelled) once every layer was extracted: commit nothing more.
                if pull.cancellation.isCancelled {
                    throw PullError(image: reference, layer: layers[index].digest.description, code: "cancelled",
                                    message: "the pull was cancelled before the layer was committed")
                }
                // The flush waits on the disk for seconds: not on one of the few cooperative threads.
                let committed = try await BlockingWork.run("decant-commit") {
                    try commit(key: key, index: index, chain: chain, result: result)
                }
                options.trace?.finished(layer: index, status: committed ? "unpacked" : "reused")
                active.remove(key)
                if committed { pull.noteCommitted(chain[index].description, in: snapshotter) }
                await UnpackCoordinator.shared.finish(claimKey, committed: true)
                claimed.remove(claimKey)
                results.append(try summary(index, status: committed ? "unpacked" : "reused", extraction: committed ? (result, seconds) : nil))
            }
            for task in stores.all { try await task.value }
        } catch {
            await stopTicker()
            // Let every extraction stop (none writes any more), then remove what this pull
            // prepared. What it committed is the pull's to discard, with its blobs
            // (``PullContext/discardWhatItMade()``): another pull may have found it meanwhile.
            pull.cancel()
            for task in stores.all { task.cancel() }
            for task in tasks.values { _ = try? await task.value }
            for task in stores.all { _ = try? await task.value }
            removeActive(active)
            for key in claimed.all { await UnpackCoordinator.shared.finish(key, committed: false) }
            throw pull.stopCause ?? error
        }
        await stopTicker()
        return results
    }

    func unpackSequentially() async throws -> [PullResult.Layer] {
        let layers = image.manifest.layers
        let diffIDs = image.config.rootfs.diffIDs
        let chain = ChainID.chain(diffIDs)
        try await protect(chain)
        let active = KeySet()
        var results: [PullResult.Layer] = []
        do {
            for index in layers.indices {
                if isCommitted(chain[index]) {
                    results.append(try summary(index, status: "reused", extraction: nil))
                    continue
                }
                let parent = index > 0 ? chain[index - 1].description : nil
                let extraction = try await extract(index: index, layer: layers[index], diffID: diffIDs[index], chainID: chain[index],
                                                   whiteouts: WhiteoutMode.naive, parent: parent, active: active)
                guard case .extracted(let key, let result, let seconds, let pending) = extraction else {
                    results.append(try summary(index, status: "reused", extraction: nil))
                    continue
                }
                if let pending { try await storeBlob(pending, index: index) }
                let committed = try await BlockingWork.run("decant-commit") {
                    try commit(key: key, index: index, chain: chain, result: result)
                }
                active.remove(key)
                if committed { pull.noteCommitted(chain[index].description, in: snapshotter) }
                results.append(try summary(index, status: committed ? "unpacked" : "reused", extraction: committed ? (result, seconds) : nil))
            }
        } catch {
            removeActive(active)
            throw error
        }
        return results
    }

    // MARK: Steps

    /// Waits while another pull in this process unpacks `key`; `true` when it committed it (reuse
    /// it), `false` when this pull is to unpack it. Throws once this pull stops (it failed, or
    /// was cancelled).
    private func claim(_ key: String, layer: String) async throws -> Bool {
        while true {
            switch await UnpackCoordinator.shared.claim(key) {
            case .owner: return false
            case .waited(true): return true
            case .waited(false): continue
            case .cancelled:
                throw PullError(image: reference, layer: layer, code: "cancelled",
                                message: "cancelled while another pull in this process unpacked the layer")
            }
        }
    }

    /// Leases every snapshot of the chain and every layer blob before anything checks which of
    /// them exist: a `gc` meanwhile keeps the committed layers this pull builds on, and those it
    /// commits before the image that references them is recorded.
    private func protect(_ chain: [Digest]) async throws {
        try await pull.protect(chain.map { LeaseResource(type: "snapshots/\(snapshotter.name)", id: $0.description) }
            + image.manifest.layers.map { LeaseResource(type: "content", id: $0.digest.description) })
    }

    private func isCommitted(_ chainID: Digest) -> Bool {
        (try? snapshotter.stat(chainID.description))?.kind == .committed
    }

    /// Prepares a snapshot and applies the layer into it, storing the blob as it streams past.
    ///
    /// A layer resumed from the ingest an earlier pull left, whose bytes then turn out not to be
    /// the blob's (torn by a crash, say), is extracted once more, all from the source: by then
    /// that ingest is discarded and the snapshot removed. Should that fail too, the source is at
    /// fault, and the pull fails with what it found.
    private func extract(index: Int, layer: Descriptor, diffID: Digest, chainID: Digest, whiteouts: WhiteoutMode,
                         parent: String?, active: KeySet, transfers: TransferBoard? = nil) async throws -> Extraction {
        func attempt() async throws -> Extraction {
            try await extractOnce(index: index, layer: layer, diffID: diffID, chainID: chainID, whiteouts: whiteouts,
                                  parent: parent, active: active, transfers: transfers)
        }
        do {
            return try await attempt()
        } catch let torn as TornIngest {
            options.events?.emit(Event(type: "layer-restart", image: reference, layer: layer.digest.description,
                                       detail: ["offset": String(torn.offset), "reason": torn.cause.message]))
            do {
                return try await attempt()
            } catch let again as TornIngest {
                // Another process left a new ingest meanwhile, and it is torn too: restart once only.
                throw again.cause
            }
        }
    }

    /// The bytes a resumed ingest held (the first `offset`) or those after them are not the
    /// blob's; thrown once the ingest is discarded and the snapshot removed.
    private struct TornIngest: Error {
        var offset: Int64
        var cause: PullError
    }

    private func extractOnce(index: Int, layer: Descriptor, diffID: Digest, chainID: Digest, whiteouts: WhiteoutMode,
                             parent: String?, active: KeySet, transfers: TransferBoard?) async throws -> Extraction {
        let key = "extract-\(UUID().uuidString.lowercased().prefix(12)) \(chainID)"
        // Leased before it exists, so that a concurrent gc never takes it for a crashed pull's.
        try await pull.protect([LeaseResource(type: "snapshots/\(snapshotter.name)", id: key)])
        // A native snapshot copies its parent: not on one of the few cooperative threads.
        guard try await BlockingWork.run("decant-prepare", { try prepare(key, parent: parent, chainID: chainID) }) else {
            return .reused
        }
        active.insert(key)
        options.events?.emit(Event(type: "snapshot-prepare", image: reference, layer: layer.digest.description, snapshot: key))
        let directory = try snapshotter.directory(key)
        if options.sync == .fs {
            do {
                try flushHandles.open(key, directory: directory)
            } catch {
                throw PullError(image: reference, layer: layer.digest.description, code: "io", message: "cannot open \(directory): \(error)")
            }
        }
        let stream = try await openBlob(layer)
        if let remote = stream.remote {
            transfers?.insert(remote, index: index)
            // The extraction thread may be blocked on the network, where it does not see the
            // pull's cancellation between entries. Weak: a finished transfer's buffers must not
            // live until the pull ends.
            pull.whenStopped { [weak remote] in remote?.cancel() }
        }
        defer { transfers?.remove(index) }
        let (blob, applyProgress) = progress.track(stream.source, index: index, digest: layer.digest.description, total: layer.size)
        defer { progress.finish(index) }
        let writer = stream.writer
        let started = ContinuousClock.now
        let extractStart = options.trace?.now() ?? 0
        defer { options.trace?.record("extract", layer: index, since: extractStart) }
        var writeback = options.sync == .fs ? EarlyWriteback() : nil
        if !options.directWrites { writeback?.directMinimumFileSize = nil }
        let applied = await LayerApplier.applying(
            from: blob, into: FilePath(directory),
            options: ApplyOptions(layerName: layer.digest.description, mediaType: layer.mediaType, whiteouts: whiteouts,
                                  gzip: options.gzip, io: options.io, cancellation: pull.cancellation,
                                  progress: applyProgress, writeback: writeback))
        guard case .success(let result) = applied else {
            guard case .failure(let error) = applied else { preconditionFailure("a result is a success or a failure") }
            let cutShort = stream.remote != nil && pull.cancellation.isCancelled && (error.code == .cancelled || error.code == .source)
            // A transfer that broke for good, or that a cancel of the pull (Ctrl-C) cut short,
            // keeps what it received, so that the next pull resumes there, as containerd keeps
            // an interrupted ingest. Any other failure leaves no trace, nor does a download that
            // stopped because another layer failed: a failed pull leaves the store as it was.
            let keep = stream.remote?.failure?.code == .unavailable || (cutShort && pull.stopCause == nil)
            if !keep { writer?.discard() }
            if cutShort && error.code == .source {
                throw PullError(image: reference, layer: layer.digest.description, code: "cancelled",
                                message: "the pull was cancelled while the layer was being downloaded")
            }
            // A transfer that failed knows more than "cannot read the blob".
            if error.code == .source, let failure = stream.remote?.failure {
                throw PullError(image: reference, layer: layer.digest.description, code: failure.code.rawValue, message: failure.message)
            }
            // Bytes that are not the blob explain any content error: name the cause.
            if let blob = error.blob, blob.digest != layer.digest || blob.size != layer.size {
                throw tornIfResumed(stream, key: key, active: active, PullError(
                    image: reference, layer: layer.digest.description, code: "digest-mismatch",
                    message: "the blob's bytes have digest \(blob.digest) and size \(blob.size), its descriptor says \(layer.digest) and \(layer.size) (digest mismatch; reading them failed first: \(error.detail))"))
            }
            let failure = PullError(image: reference, layer: layer.digest.description, code: error.code.rawValue, message: error.detail)
            throw error.isContentError ? tornIfResumed(stream, key: key, active: active, failure) : failure
        }
        let seconds = (ContinuousClock.now - started).seconds
        let digests = result.digests
        guard digests.compressedDigest == layer.digest, digests.compressedSize == layer.size else {
            writer?.discard()
            throw tornIfResumed(stream, key: key, active: active, PullError(
                image: reference, layer: layer.digest.description, code: "digest-mismatch",
                message: "the blob's bytes have digest \(digests.compressedDigest) and size \(digests.compressedSize), its descriptor says \(layer.digest) and \(layer.size) (digest mismatch)"))
        }
        guard digests.diffID == diffID else {
            writer?.discard()
            throw tornIfResumed(stream, key: key, active: active, PullError(
                image: reference, layer: layer.digest.description, code: "digest-mismatch",
                message: "the layer uncompresses to \(digests.diffID) but the config's diff_id is \(diffID) (diff_id mismatch)"))
        }
        let uncompressed = ["containerd.io/uncompressed": diffID.description]
        var pending: PendingStore?
        if let writer, let tee = stream.tee {
            if let failure = tee.failure {
                writer.discard()
                throw PullError(image: reference, layer: layer.digest.description, code: failure.code.rawValue,
                                message: "cannot store the blob: \(failure)")
            }
            pending = PendingStore(.ingest(writer), digest: digests.compressedDigest, size: digests.compressedSize, labels: uncompressed)
        } else if let linkable = stream.linkable {
            pending = PendingStore(.link(linkable, store.content), digest: digests.compressedDigest, size: digests.compressedSize,
                                   labels: uncompressed)
        } else if let ref = stream.otherWriter {
            pending = PendingStore(.otherWriter(ref: ref, store.content, reopen: { [source] offset in try await source.open(layer, offset: offset) }),
                                   digest: digests.compressedDigest, size: digests.compressedSize, labels: uncompressed)
        } else if store.content.contains(layer.digest) {
            try store.content.update(layer.digest, labels: uncompressed, fieldPaths: ["labels.containerd.io/uncompressed"])
        }
        options.trace?.extracted(layer: index, result: result)
        options.events?.emit(Event(type: "layer-extracted", image: reference, layer: layer.digest.description, snapshot: key,
                                   detail: ["entries": String(result.entries.total), "seconds": String(format: "%.3f", seconds)]))
        return .extracted(key: key, result: result, seconds: seconds, store: pending)
    }

    /// `failure`, or, for a layer resumed from an ingest (discarded by now), ``TornIngest`` once
    /// the snapshot `key` is removed, so that the layer is extracted again from the start.
    private func tornIfResumed(_ stream: BlobStreams, key: String, active: KeySet, _ failure: PullError) -> any Error {
        guard stream.resumedAt > 0 else { return failure }
        do {
            try snapshotter.discard(key)
        } catch {
            // A snapshot that cannot be removed (a failing disk, say) fails the pull, whose
            // clean-up tries again.
            return failure
        }
        active.remove(key)
        options.events?.emit(Event(type: "snapshot-remove", image: reference, snapshot: key))
        return TornIngest(offset: stream.resumedAt, cause: failure)
    }

    /// Makes a layer's verified blob durable (fsync) and visible in the content store, or waits
    /// for the other writer that holds it.
    private func storeBlob(_ pending: PendingStore, index: Int) async throws {
        let start = options.trace?.now() ?? 0
        let layer = pending.digest.description
        let events = OtherWriterEvents(
            waiting: { [options, reference] in
                options.events?.emit(Event(type: "layer-blob-wait", image: reference, layer: layer,
                                           detail: ["reason": "another writer holds its ingest"]))
            },
            resuming: { [options, reference] offset in
                options.events?.emit(Event(type: "layer-resume", image: reference, layer: layer,
                                           detail: ["offset": String(offset), "reason": "its other writer gave up"]))
            })
        let wrote: Bool
        do {
            wrote = try await pending.commit(cancellation: pull.cancellation, events: events)
        } catch {
            // The pull fails: the other layers, and a store waiting for another writer, stop now.
            let failure = storeFailure(error, layer: layer)
            pull.stop(because: failure)
            throw failure
        }
        options.trace?.record("store", layer: index, since: start)
        if wrote { pull.noteAdded(pending.digest) }
    }

    private func storeFailure(_ error: any Error, layer: String) -> PullError {
        switch error {
        case let error as StoreError:
            PullError(image: reference, layer: layer, code: error.code.rawValue, message: "cannot store the blob: \(error)")
        case let error as RemoteError:
            PullError(image: reference, layer: layer, code: error.code.rawValue,
                      message: "cannot read the blob again to store it: \(error.message)")
        case is CancellationError:
            PullError(image: reference, layer: layer, code: "cancelled", message: "cancelled while another writer held the blob")
        default:
            PullError(image: reference, layer: layer, code: "io", message: "cannot store the blob: \(error)")
        }
    }

    /// Where a layer's bytes come from, and the ingest they are stored into on the way.
    struct BlobStreams {
        var source: any ByteSource
        var writer: IngestWriter?
        var tee: TeeByteSource?
        var remote: (any BlobStream)?
        /// A local file to link into the content store once verified, instead of a copy.
        var linkable: (any ByteSource)?
        /// The ingest ref another writer held: the blob is stored by it, or after it.
        var otherWriter: String?
        /// How many bytes of the blob came from the ingest an earlier pull left.
        var resumedAt: Int64 = 0
    }

    /// The content store's copy when it has the blob; otherwise the source's bytes, teed into an
    /// ingest (or, discarding unpacked layers, not stored at all). An ingest an interrupted pull
    /// left behind is read first and the source asked only for the rest.
    private func openBlob(_ layer: Descriptor) async throws -> BlobStreams {
        if store.content.contains(layer.digest) {
            return BlobStreams(source: try FileByteSource(path: FilePath(try store.content.path(of: layer.digest))))
        }
        if options.discardUnpackedLayers {
            let origin = try await source.open(layer, offset: 0)
            return BlobStreams(source: origin, remote: origin as? any BlobStream)
        }
        // A local blob that cannot be linked is read through the descriptor opened to find out.
        let opened: (any ByteSource)?
        if options.linkLocalBlobs && !source.isRemote {
            let origin = try await source.open(layer, offset: 0)
            if let file = origin.wholeFile, store.content.canLink(file, size: layer.size) {
                return BlobStreams(source: origin, linkable: origin)
            }
            opened = origin
        } else {
            opened = nil
        }
        func open(at offset: Int64) async throws -> any ByteSource {
            if offset == 0, let opened { return opened }
            // An ingest that holds the whole blob (its pull was killed before committing it)
            // needs nothing more, and a registry answers a range that starts at the end with 416.
            if offset == layer.size { return ConcatenatedByteSource([]) }
            return try await source.open(layer, offset: offset)
        }
        let ref = "layer-" + layer.digest.description
        // The decoding thread hashes every byte the ingest receives (and those it already had,
        // read first): the writer need not hash them again.
        var writer: IngestWriter
        do {
            writer = try store.content.writer(ref: ref, expected: layer.digest, total: layer.size, hashing: false)
        } catch where error.code == .unavailable {
            // Another process is writing the same blob: extract it without storing, and wait for
            // that writer afterwards.
            let origin = try await open(at: 0)
            return BlobStreams(source: origin, remote: origin as? any BlobStream, otherWriter: ref)
        } catch {
            throw PullError(image: reference, layer: layer.digest.description, code: error.code.rawValue,
                            message: "cannot store the blob: \(error)")
        }
        if writer.offset > layer.size {
            writer.discard()
            writer = try store.content.writer(ref: ref, expected: layer.digest, total: layer.size, hashing: false)
        }
        let resumeAt = writer.offset
        let origin: any ByteSource
        do {
            origin = try await open(at: resumeAt)
        } catch {
            if resumeAt == 0 { writer.discard() }
            throw error
        }
        let tee = TeeByteSource(source: origin, writer: writer)
        if resumeAt > 0 {
            options.events?.emit(Event(type: "layer-resume", image: reference, layer: layer.digest.description,
                                       detail: ["offset": String(resumeAt)]))
        }
        let combined: any ByteSource = resumeAt > 0 ? ConcatenatedByteSource([writer.writtenBytes(), tee]) : tee
        return BlobStreams(source: combined, writer: writer, tee: tee, remote: origin as? any BlobStream, resumedAt: resumeAt)
    }

    /// Prepares the extraction snapshot; `false` when the chainID is committed already.
    private func prepare(_ key: String, parent: String?, chainID: Digest) throws -> Bool {
        do {
            _ = try snapshotter.prepare(key, parent: parent, labels: [snapshotReferenceLabel: chainID.description])
            return true
        } catch where error.code == .alreadyExists {
            return false
        }
    }

    /// Commits layer `index` on top of its committed parent; `false` when another pull committed
    /// the same chainID first (this one's copy is then dropped).
    private func commit(key: String, index: Int, chain: [Digest], result: LayerApplyResult) throws -> Bool {
        let layer = image.manifest.layers[index].digest.description
        let directory = try snapshotter.directory(key)
        let parent = index > 0 ? chain[index - 1].description : nil
        let trace = options.trace
        if snapshotter.name != "native", let parent, !result.implicitDirectories.isEmpty {
            let start = trace?.now() ?? 0
            try fixParents(result.implicitDirectories, in: directory, parent: parent, layer: layer)
            trace?.record("fixups", layer: index, since: start)
        }
        if options.sync == .fs {
            let start = trace?.now() ?? 0
            try flush(directory, handle: flushHandles.take(key), layer: layer)
            trace?.record("sync", layer: index, since: start)
        }
        if isCommitted(chain[index]) {
            try snapshotter.remove(key)
            return false
        }
        let commitStart = trace?.now() ?? 0
        defer { trace?.record("commit", layer: index, since: commitStart) }
        do {
            try snapshotter.commit(name: chain[index].description, key: key, parent: parent, labels: [:],
                                   usage: SnapshotUsage(size: result.usage.bytes + 4096, inodes: result.usage.inodes + 1))
        } catch where error.code == .alreadyExists {
            // Another process committed the same chainID since the check above: its copy serves.
            try snapshotter.remove(key)
            return false
        } catch {
            throw PullError(image: reference, layer: layer, code: error.code.rawValue,
                            message: "cannot commit snapshot \(chain[index]): \(error)")
        }
        options.events?.emit(Event(type: "snapshot-commit", image: reference, layer: layer,
                                   snapshot: chain[index].description, detail: ["key": key]))
        return true
    }

    /// containerd's `WithParents`, now that the lower layers are committed.
    private func fixParents(_ directories: [String], in directory: String, parent: String, layer: String) throws {
        let lowers = try lineage.directories(from: parent, in: snapshotter).map { FilePath($0) }
        do {
            try ParentFixups.apply(directories, in: FilePath(directory), lowers: lowers)
        } catch {
            throw PullError(image: reference, layer: layer, code: "io",
                            message: "cannot give implicit directories their parents' attributes: \(error)")
        }
    }

    /// `syncfs` once per layer, so that a committed snapshot survives a power loss whole;
    /// through `handle`, opened before the layer was written (see ``FlushHandles``), when there
    /// is one.
    private func flush(_ directory: String, handle: OwnedDescriptor?, layer: String) throws {
        do {
            let handle = try handle ?? OwnedDescriptor(taking: try FileDescriptor.openDirectory(FilePath(directory)))
            try handle.descriptor.syncFilesystem(path: directory)
        } catch {
            throw PullError(image: reference, layer: layer, code: "io", message: "cannot flush \(directory): \(error)")
        }
    }

    private func removeActive(_ active: KeySet) {
        for key in active.all {
            _ = flushHandles.take(key)
            // Files first: the disk may be full, and deleting the row is a database write.
            try? snapshotter.discard(key)
            options.events?.emit(Event(type: "snapshot-remove", image: reference, snapshot: key))
        }
    }

    private func summary(_ index: Int, status: String, extraction: (LayerApplyResult, Double)?) throws -> PullResult.Layer {
        let layer = image.manifest.layers[index]
        let chainID = ChainID.chain(image.config.rootfs.diffIDs)[index]
        return PullResult.Layer(
            index: index, digest: layer.digest, mediaType: layer.mediaType, size: layer.size,
            diffID: image.config.rootfs.diffIDs[index], chainID: chainID, snapshotKey: chainID.description, status: status,
            directory: try snapshotter.directory(chainID.description), entries: extraction?.0.entries.total,
            files: extraction?.0.entries.regularFiles, uncompressedSize: extraction?.0.digests.uncompressedSize,
            seconds: extraction?.1, stages: extraction?.0.stages, blobStored: false)
    }
}

/// Tasks started by the tasks of one unpack, awaited together at its end.
final class TaskList: Sendable {
    private let tasks = Mutex<[Task<Void, any Error>]>([])

    func append(_ task: Task<Void, any Error>) { tasks.withLock { $0.append(task) } }
    var all: [Task<Void, any Error>] { tasks.withLock { $0 } }
}

/// The registry transfers of one unpack in flight, by layer index.
final class TransferBoard: Sendable {
    private let streams = Mutex<[Int: any BlobStream]>([:])

    func insert(_ stream: any BlobStream, index: Int) { streams.withLock { $0[index] = stream } }
    func remove(_ index: Int) { _ = streams.withLock { $0.removeValue(forKey: index) } }
    /// How long each transfer's reader has waited for the network so far.
    var readerWaiting: [Int: Duration] { streams.withLock { $0.mapValues(\.readerWaiting) } }
}

/// A set of keys shared between the tasks of one unpack.
final class KeySet: Sendable {
    private let keys = Mutex<Set<String>>([])

    func insert(_ key: String) { keys.withLock { _ = $0.insert(key) } }
    func remove(_ key: String) { keys.withLock { _ = $0.remove(key) } }
    var all: Set<String> { keys.withLock { $0 } }
}
