/// What applying a layer produced.
public struct LayerApplyResult: Sendable, Codable, Equatable {
    /// How many entries of each kind the layer held (after PAX and GNU meta headers).
    public struct EntryCounts: Sendable, Codable, Equatable {
        public var total = 0
        public var regularFiles = 0
        public var directories = 0
        public var symlinks = 0
        public var hardlinks = 0
        public var devices = 0
        public var fifos = 0
        public var whiteouts = 0
        public var opaqueDirectories = 0
        /// Entries not applied: ones that resolve to the root, PAX global headers.
        public var skipped = 0
    }

    /// Space the layer takes in its directory: bytes allocated on disk and inodes, hard links
    /// counted once, entries the layer replaced or deleted subtracted.
    public struct DiskUsage: Sendable, Codable, Equatable {
        public var bytes: Int64 = 0
        public var inodes: Int64 = 0
    }

    public var layer: String
    public var digests: StreamDigests
    public var entries: EntryCounts
    /// Bytes of regular-file data written.
    public var fileBytes: Int64
    public var usage: DiskUsage
    /// Directories the layer needed but did not contain, created `0755 root:root`, in creation
    /// order: the commit step gives them their attributes from the layer below (containerd's
    /// `WithParents`).
    public var implicitDirectories: [String]
    public var whiteoutMode: WhiteoutMode
    /// The file I/O backend that actually ran (io_uring may have fallen back to syscalls).
    public var io: FileIOBackend
    /// Where the time went.
    public var stages: LayerStageTimes
}
