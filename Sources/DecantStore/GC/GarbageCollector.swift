import DecantOCI
import Foundation

/// What a collection removed (or, in a dry run, would remove).
public struct GarbageCollectionReport: Sendable, Codable, Equatable {
    public struct RemovedContent: Sendable, Codable, Equatable {
        public var digest: String
        public var size: Int64
    }

    public struct RemovedSnapshot: Sendable, Codable, Equatable {
        public var snapshotter: String
        public var key: String
        public var size: Int64
    }

    public var dryRun: Bool
    public var content: [RemovedContent] = []
    public var snapshots: [RemovedSnapshot] = []
    public var expiredLeases: [String] = []
    /// Leases whose holding process has ended (``HeldLease``): a pull that was killed.
    public var abandonedLeases: [String] = []
    /// Partial writes nobody has touched for longer than the expiry, by ref; one whose ref was
    /// lost in a crash as `(no ref) DIRECTORY`.
    public var ingests: [String] = []
    /// Directories of snapshots already removed, which a removal that a crash or an error
    /// stopped had left (not counted in `bytesFreed`).
    public var snapshotDirectories: [String] = []
    public var bytesFreed: Int64 = 0
}

/// Mark and sweep over content and snapshots, as containerd's GC does.
///
/// Roots: images' targets, what live leases hold, anything labelled `containerd.io/gc.root`, and
/// every active snapshot and view (they are someone's work in progress; remove them explicitly) —
/// except a pull's `extract-…` snapshot that no live lease holds any more, which a crashed pull
/// left behind.
/// References: a manifest or index names its config, layers and manifests; a
/// `containerd.io/gc.ref.content*` label names a blob; `containerd.io/gc.ref.snapshot.<snapshotter>`
/// a snapshot; a snapshot holds its parent. Expired leases are deleted first, and so are leases
/// whose holder has ended (``HeldLease``: a killed pull's). Ingests (partial
/// blobs) are kept for resuming while they are recent or a writer holds them, and removed once
/// untouched for longer than `ingestExpiry`.
public struct GarbageCollector: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// How long a partial blob nobody writes is kept for a pull to resume: a day, as a node that
    /// lost its network overnight should not download again what it had.
    public static let defaultIngestExpiry: TimeInterval = 24 * 3600

    public func collect(dryRun: Bool, ingestExpiry: TimeInterval = defaultIngestExpiry) throws(StoreError) -> GarbageCollectionReport {
        // Pulls (here or in other processes) lease what they use only while no collection runs.
        try store.collectionLock.collecting { () throws(StoreError) in
            try collectAlone(dryRun: dryRun, ingestExpiry: ingestExpiry)
        }
    }

    /// Removes what one failed pull made (`content` it stored, `snapshots` it committed in
    /// `snapshotter`) that nothing else keeps: what a collection would remove once the pull's own
    /// `lease` were gone. Every other lease keeps what it holds, also one that is expired or whose
    /// holder ended, so that nothing another pull found here and builds on goes; neither does what
    /// an image (by then recorded by another pull) references. A snapshot another one was built
    /// on stays too. Holds the collection lock, as a collection does, while it decides and
    /// removes.
    public func discard(content: [Digest], snapshots: [String] = [], in snapshotter: (any Snapshotter)? = nil,
                        ownLease: String?) throws(StoreError) -> GarbageCollectionReport {
        try store.collectionLock.collecting { () throws(StoreError) in
            var report = GarbageCollectionReport(dryRun: false)
            let marks = try mark(keptBy: try store.leases.list().filter { $0.id != ownLease })
            if let snapshotter {
                let existing = marks.snapshotsByName[snapshotter.name] ?? [:]
                let doomed = Set(snapshots).compactMap { existing[$0] }.filter {
                    !marks.markedSnapshots.contains(SnapshotReference(snapshotter: snapshotter.name, key: $0.name))
                }
                try remove(doomed, from: snapshotter, dryRun: false, into: &report, keepingRefused: true)
            }
            let stored = Dictionary(marks.content.map { ($0.digest, $0) }, uniquingKeysWith: { first, _ in first })
            for digest in Set(content) where !marks.markedContent.contains(digest.description) {
                // One blob that cannot go (a disk error) does not keep the others.
                guard let info = stored[digest], (try? store.content.delete(digest)) != nil else { continue }
                report.content.append(.init(digest: digest.description, size: info.size))
                report.bytesFreed += info.size
            }
            return report
        }
    }

    private func collectAlone(dryRun: Bool, ingestExpiry: TimeInterval) throws(StoreError) -> GarbageCollectionReport {
        var report = GarbageCollectionReport(dryRun: dryRun)
        let now = Date()
        // Pulls go on meanwhile, but they lease only between collections (``CollectionLock``):
        // whatever a pull makes or uses from now on was leased before this started, or is made
        // after the sweep. It labels its config, records its image and then drops its lease, so
        // the leases are read first, and labels and images after them: a lease gone by then
        // means the image and its labels are there to read.
        var leases = try store.leases.list()
        for lease in leases where lease.isExpired(at: now) {
            report.expiredLeases.append(lease.id)
            if !dryRun { try store.leases.delete(lease.id) }
        }
        leases.removeAll { $0.isExpired(at: now) }
        for lease in leases {
            guard let lockFile = store.leases.lockIfAbandoned(lease) else { continue }
            if !dryRun {
                do {
                    try store.leases.delete(lease.id)
                } catch where error.code == .notFound {
                    // Its holder released it just now: it was not abandoned after all.
                    continue
                }
                lockFile.remove()
            }
            report.abandonedLeases.append(lease.id)
        }
        leases.removeAll { report.abandonedLeases.contains($0.id) }

        let marks = try mark(keptBy: leases)
        for info in marks.content where !marks.markedContent.contains(info.digest.description) {
            report.content.append(.init(digest: info.digest.description, size: info.size))
            report.bytesFreed += info.size
            if !dryRun { try store.content.delete(info.digest) }
        }
        for snapshotter in store.snapshotters {
            let doomed = (marks.snapshotsByName[snapshotter.name] ?? [:]).values.filter {
                !marks.markedSnapshots.contains(SnapshotReference(snapshotter: snapshotter.name, key: $0.name))
            }
            try remove(doomed, from: snapshotter, dryRun: dryRun, into: &report)
        }
        for ingest in try store.content.ingests() where now.timeIntervalSince(ingest.updatedAt) > ingestExpiry {
            guard store.content.abortIfIdle(ref: ingest.ref, dryRun: dryRun, olderThan: ingestExpiry, now: now) else { continue }
            report.ingests.append(ingest.ref)
            report.bytesFreed += ingest.offset
        }
        for ingest in store.content.removeUnnamedIngests(olderThan: ingestExpiry, now: now, dryRun: dryRun) {
            report.ingests.append("(no ref) " + ingest.name)
            report.bytesFreed += ingest.size
        }
        if !dryRun {
            store.leases.removeStrayLockFiles()
            store.content.removeLeftAsideIngests()
            for snapshotter in store.snapshotters {
                report.snapshotDirectories += snapshotter.removeInterruptedRemovals()
            }
        }
        return report
    }

    /// Removes `doomed` children before parents: a snapshot goes once no other doomed one names
    /// it. `keepingRefused`: one the snapshotter will not remove because a snapshot outside
    /// `doomed` was built on it stays, and so do its parents.
    private func remove(_ doomed: [SnapshotInfo], from snapshotter: any Snapshotter, dryRun: Bool,
                        into report: inout GarbageCollectionReport, keepingRefused: Bool = false) throws(StoreError) {
        var doomed = doomed
        while !doomed.isEmpty {
            let parents = Set(doomed.compactMap(\.parent))
            let leaves = doomed.filter { !parents.contains($0.name) }.sorted { $0.name < $1.name }
            for leaf in leaves {
                let size = (try? snapshotter.usage(leaf.name).size) ?? 0
                if !dryRun {
                    do {
                        try snapshotter.remove(leaf.name)
                    } catch where keepingRefused && error.code == .failedPrecondition {
                        // Its parents are refused in turn: the snapshot they hold stays.
                        continue
                    }
                }
                report.snapshots.append(.init(snapshotter: snapshotter.name, key: leaf.name, size: size))
                report.bytesFreed += size
            }
            doomed.removeAll { leaf in leaves.contains { $0.name == leaf.name } }
        }
    }

    /// What a collection finds in the store, and which of it something keeps.
    private struct Marks {
        var content: [ContentInfo]
        var snapshotsByName: [String: [String: SnapshotInfo]]
        var markedContent: Set<String>
        var markedSnapshots: Set<SnapshotReference>
    }

    /// Marks what images, `leases`, `containerd.io/gc.root` labels and work in progress keep,
    /// and what that references in turn. Leases are read before this is called, images and
    /// labels here, after them (see ``collectAlone(dryRun:ingestExpiry:)``).
    private func mark(keptBy leases: [Lease]) throws(StoreError) -> Marks {
        let allContent = try store.content.list()
        let contentByDigest = Dictionary(uniqueKeysWithValues: allContent.map { ($0.digest.description, $0) })
        var snapshotsByName: [String: [String: SnapshotInfo]] = [:]
        for snapshotter in store.snapshotters {
            snapshotsByName[snapshotter.name] = Dictionary(uniqueKeysWithValues: try snapshotter.walk(filters: []).map { ($0.name, $0) })
        }

        var markedContent = Set<String>()
        var markedSnapshots = Set<SnapshotReference>()
        var pendingContent: [String] = try store.images.list().map(\.digest)
        var pendingSnapshots: [SnapshotReference] = []
        for lease in leases {
            for resource in lease.resources {
                if resource.type == "content" { pendingContent.append(resource.id) }
                if resource.type.hasPrefix("snapshots/") {
                    pendingSnapshots.append(SnapshotReference(snapshotter: String(resource.type.dropFirst("snapshots/".count)), key: resource.id))
                }
            }
        }
        pendingContent += allContent.filter { $0.labels["containerd.io/gc.root"] != nil }.map(\.digest.description)
        let leased = Set(leases.flatMap { lease in
            lease.resources.filter { $0.type.hasPrefix("snapshots/") }.map {
                SnapshotReference(snapshotter: String($0.type.dropFirst("snapshots/".count)), key: $0.id)
            }
        })
        for (snapshotter, snapshots) in snapshotsByName {
            for info in snapshots.values where info.kind != .committed || info.labels["containerd.io/gc.root"] != nil {
                let reference = SnapshotReference(snapshotter: snapshotter, key: info.name)
                // A pull's extraction snapshot outlives its lease only when the pull crashed.
                if Self.isAbandonedExtraction(info), !leased.contains(reference) { continue }
                pendingSnapshots.append(reference)
            }
        }

        while !pendingContent.isEmpty || !pendingSnapshots.isEmpty {
            while let digest = pendingContent.popLast() {
                guard markedContent.insert(digest).inserted, let info = contentByDigest[digest] else { continue }
                pendingContent += childDigests(of: info)
                let references = Self.references(in: info.labels)
                pendingContent += references.content
                pendingSnapshots += references.snapshots
            }
            while let reference = pendingSnapshots.popLast() {
                guard markedSnapshots.insert(reference).inserted,
                      let info = snapshotsByName[reference.snapshotter]?[reference.key] else { continue }
                if let parent = info.parent { pendingSnapshots.append(SnapshotReference(snapshotter: reference.snapshotter, key: parent)) }
                let references = Self.references(in: info.labels)
                pendingContent += references.content
                pendingSnapshots += references.snapshots
            }
        }

        return Marks(content: allContent, snapshotsByName: snapshotsByName, markedContent: markedContent,
                     markedSnapshots: markedSnapshots)
    }

    /// An active snapshot a pull prepares to extract a layer into (key `extract-…`, labelled
    /// with the chainID it is to become).
    private static func isAbandonedExtraction(_ info: SnapshotInfo) -> Bool {
        info.kind == .active && info.name.hasPrefix("extract-") && info.labels[snapshotReferenceLabel] != nil
    }

    /// The blobs a manifest or index names, read from its JSON (small blobs starting with `{`).
    private func childDigests(of info: ContentInfo) -> [String] {
        guard info.size <= 4 << 20, let path = try? store.content.path(of: info.digest),
              let data = FileManager.default.contents(atPath: path), data.first == UInt8(ascii: "{"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [] }
        var digests: [String] = []
        func add(_ descriptor: Any?) {
            if let digest = (descriptor as? [String: Any])?["digest"] as? String { digests.append(digest) }
        }
        add(object["config"])
        (object["layers"] as? [Any])?.forEach(add)
        (object["manifests"] as? [Any])?.forEach(add)
        (object["blobs"] as? [Any])?.forEach(add)
        add(object["subject"])
        return digests
    }

    private static func references(in labels: [String: String]) -> (content: [String], snapshots: [SnapshotReference]) {
        var content: [String] = []
        var snapshots: [SnapshotReference] = []
        for (key, value) in labels {
            if key.hasPrefix("containerd.io/gc.ref.content") {
                content.append(value)
            } else if key.hasPrefix("containerd.io/gc.ref.snapshot.") {
                // `containerd.io/gc.ref.snapshot.overlayfs` or `...overlayfs/<anything>`.
                let rest = key.dropFirst("containerd.io/gc.ref.snapshot.".count)
                let snapshotter = rest.split(separator: "/", maxSplits: 1).first.map(String.init) ?? String(rest)
                snapshots.append(SnapshotReference(snapshotter: snapshotter, key: value))
            }
        }
        return (content, snapshots)
    }
}

private struct SnapshotReference: Hashable {
    var snapshotter: String
    var key: String
}
