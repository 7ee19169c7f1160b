import NIOCore

/// How much a registry connection reads from its socket at once.
///
/// NIO reads at most 64 KiB per `read(2)` unless told otherwise. A layer blob arrives as one long
/// body, and every read costs a system call, often a TCP acknowledgement, a pass through the HTTP
/// decoder and the body stream, and a hand-off to the layer's thread. Reads of up to
/// ``maximum`` cut those to about a quarter. On a pull of big-files-zstd (0.95 GB of blobs) from
/// a local docker-registry that saved about 0.15 CPU-s of decant's 6.2 (round-robin medians,
/// issue 6). Larger reads saved no more there and held more memory: a chunk keeps the buffer it
/// was read into until the layer's thread has taken it (``BlobByteQueue`` copies one that fills
/// little of its buffer).
enum RegistryConnectionReads {
    /// The largest read, in bytes.
    static let maximum = 256 << 10

    /// Sets `channel`'s reads to grow up to ``maximum`` while they come back full (NIO's
    /// adaptive allocator, from its default initial and minimum sizes).
    static func configure(_ channel: any Channel) -> EventLoopFuture<Void> {
        channel.setOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: maximum))
    }
}
