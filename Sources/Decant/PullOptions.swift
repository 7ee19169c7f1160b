import Foundation
import DecantArchive
import DecantOCI
import DecantRemote

/// How a pull runs.
public struct PullOptions: Sendable {
    /// `overlayfs` (layers extracted in parallel) or `native` (each layer onto a copy of its
    /// parent, so one after the other).
    public var snapshotter: String
    /// The platform to pick from an index; the host's when `nil`.
    public var platform: Platform?
    /// How many layers are extracted at once.
    public var unpackConcurrency: Int
    /// Whether each committed snapshot's filesystem is flushed (`syncfs`) first, so a power loss
    /// cannot leave committed snapshots with empty files (containerd issue 8895).
    public var sync: SyncMode
    public var gzip: GzipImplementation
    public var io: FileIOBackend
    /// Where events and progress go.
    public var events: (any EventSink)?
    /// Mirrors, credentials, retries and limits for registry pulls.
    public var registry: RegistryOptions
    /// The most layers downloaded at once from a registry (each feeds its own extraction). A
    /// pull starts with ``unpackConcurrency`` and adds one at a time, up to the larger of the two,
    /// while the transfers in flight keep their readers waiting on the network (see
    /// `DownloadAdmission`).
    public var maxConcurrentDownloads: Int
    /// Records the pull's timeline when set (`decant pull --trace FILE`).
    public var trace: PullTrace?
    /// Whether a layer blob that is a file on the store's filesystem (an OCI layout directory),
    /// owned by this user and writable by nobody else, is hard-linked into the content store
    /// once verified instead of copied. Off when the layout's files may be rewritten in place.
    public var linkLocalBlobs: Bool
    /// Whether the layer blobs this pull unpacks stay out of the content store: each streams from
    /// the source through verification straight into its snapshot and is never written to disk as
    /// a blob. containerd's `discard_unpacked_layers`, except that containerd writes the blobs
    /// first and lets GC remove them afterwards. Saves their disk space and their writes (and
    /// flush); the price is that the store cannot serve the image's layers again (to push,
    /// export or unpack into another snapshotter), and a blob already in the store stays there.
    public var discardUnpackedLayers: Bool
    /// Whether, with ``SyncMode/fs``, files of 4 MiB and more are written with direct I/O, past
    /// the page cache (`EarlyWriteback/directMinimumFileSize`): the flush before each commit
    /// writes them anyway. Off, they stay cached after the pull. No effect with `--io uring`.
    public var directWrites: Bool

    public enum SyncMode: String, Sendable, CaseIterable {
        case fs
        case none
    }

    public init(snapshotter: String = "overlayfs", platform: Platform? = nil,
                unpackConcurrency: Int = Self.defaultConcurrency, sync: SyncMode = .fs,
                gzip: GzipImplementation = .isal, io: FileIOBackend = .syscalls, events: (any EventSink)? = nil,
                registry: RegistryOptions = RegistryOptions(), maxConcurrentDownloads: Int = 3, trace: PullTrace? = nil,
                linkLocalBlobs: Bool = true, discardUnpackedLayers: Bool = false, directWrites: Bool = true) {
        self.snapshotter = snapshotter
        self.platform = platform
        self.unpackConcurrency = max(1, unpackConcurrency)
        self.sync = sync
        self.gzip = gzip
        self.io = io
        self.events = events
        self.registry = registry
        self.maxConcurrentDownloads = max(1, maxConcurrentDownloads)
        self.trace = trace
        self.linkLocalBlobs = linkLocalBlobs
        self.discardUnpackedLayers = discardUnpackedLayers
        self.directWrites = directWrites
    }

    /// The number of cores.
    public static var defaultConcurrency: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

#if canImport(Glibc)
import Glibc
#endif
