import DecantOCI

/// How whiteout entries (`.wh.NAME`, `.wh..wh..opq`) are applied.
public enum WhiteoutMode: String, Sendable, Codable, CaseIterable {
    /// Write overlayfs markers: a `0/0` character device for a deleted path, the
    /// `trusted.overlay.opaque=y` xattr for an opaque directory. For overlay layers above the bottom.
    case overlay
    /// Delete what the whiteout names, and empty an opaque directory of everything this layer did
    /// not put there. For the bottom layer, and for snapshotters that apply onto a copy of the parent.
    case naive
}

/// How file data and metadata reach the disk.
public enum FileIOBackend: String, Sendable, Codable, CaseIterable {
    /// Plain system calls, one per operation.
    case syscalls
    /// io_uring for file data and closes, batched per decoded buffer; falls back to `syscalls`
    /// (logging once) where a ring cannot be set up.
    case uring
}

/// Everything that shapes one layer application.
public struct ApplyOptions: Sendable {
    /// The name errors and logs use for the layer: its digest, or the blob's path.
    public var layerName: String
    /// The media type the layer was declared with; `nil` detects the compression from the bytes.
    public var mediaType: MediaType?
    public var whiteouts: WhiteoutMode
    public var gzip: GzipImplementation
    public var io: FileIOBackend
    /// Size of each decoded buffer handed from the decoding thread to the applying thread.
    public var bufferSize: Int
    /// How many such buffers circulate: memory per layer is `bufferSize × bufferCount`, plus one
    /// read buffer of `bufferSize`.
    public var bufferCount: Int
    /// Checked before each entry: when set, the application stops with a `cancelled` error.
    public var cancellation: CancellationFlag?
    /// Updated after every entry, for progress reports.
    public var progress: ApplyProgress?
    /// Whether large files' data is sent to disk as it is written; for callers that flush the
    /// layer before committing it.
    public var writeback: EarlyWriteback?

    public init(layerName: String, mediaType: MediaType? = nil, whiteouts: WhiteoutMode = .overlay,
                gzip: GzipImplementation = .isal, io: FileIOBackend = .syscalls,
                bufferSize: Int = 1 << 20, bufferCount: Int = 4, cancellation: CancellationFlag? = nil,
                progress: ApplyProgress? = nil, writeback: EarlyWriteback? = nil) {
        self.layerName = layerName
        self.mediaType = mediaType
        self.whiteouts = whiteouts
        self.gzip = gzip
        self.io = io
        self.bufferSize = bufferSize
        self.bufferCount = bufferCount
        self.cancellation = cancellation
        self.progress = progress
        self.writeback = writeback
    }
}
