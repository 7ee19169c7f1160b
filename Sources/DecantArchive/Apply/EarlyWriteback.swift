/// When the applier asks the kernel to start writing file data to disk while the layer is still
/// being extracted, so that the `syncfs` before the snapshot's commit finds little left to write.
///
/// The kernel's own writeback starts only once dirty pages pass `vm.dirty_background_ratio`
/// (gigabytes on a large machine): without a nudge, a whole image's data is written by the
/// final flush, after the extraction, while the cores sit idle.
public struct EarlyWriteback: Sendable, Equatable {
    /// A file's data is handed to writeback each time this many bytes were written to it.
    public var stride: Int64
    /// Smaller files are left to the final flush: a system call per small file costs more than
    /// the overlap gains.
    public var minimumFileSize: Int64

    /// Files of at least this size are written with direct I/O instead (``DirectFileAppender``):
    /// from the applier's buffers straight to the disk, taking no page cache; `nil` writes every
    /// file through the page cache. Where direct I/O is not available, such files fall back to
    /// the early writeback above.
    ///
    /// The flush before the commit writes their data anyway; written directly, it goes while the
    /// layer is still decoding, costs no copy into the page cache, and does not evict what the
    /// machine was caching. The price: right after the pull, those files are read from disk.
    public var directMinimumFileSize: Int64?

    public init(stride: Int64 = 8 << 20, minimumFileSize: Int64 = 1 << 20, directMinimumFileSize: Int64? = 4 << 20) {
        self.stride = stride
        self.minimumFileSize = minimumFileSize
        self.directMinimumFileSize = directMinimumFileSize
    }
}
