#if canImport(Glibc)
import Glibc
#endif

/// Where a layer's time went, in seconds, measured on its three threads: the decoding thread
/// reads, hashes and inflates the blob; the hashing thread hashes the uncompressed stream; the
/// applying thread parses tar and writes files. Waiting is time a thread spent blocked on the
/// others (the bounded buffer ring full or empty), which shows which side was the bottleneck.
public struct LayerStageTimes: Sendable, Codable, Equatable {
    /// Blocked reading the blob: the network for a registry, the disk or page cache otherwise.
    public var read: Double = 0
    /// SHA-256 of the blob (on the decoding thread) and of the uncompressed tar (on the hashing
    /// thread, at the same time as the writes).
    public var hash: Double = 0
    public var inflate: Double = 0
    /// The decoding thread waiting for the applying and hashing threads to hand back a buffer.
    public var decoderWaiting: Double = 0
    /// The applying thread's time not spent waiting: tar parsing and the file system calls.
    public var write: Double = 0
    /// The applying thread waiting for decoded bytes.
    public var writerWaiting: Double = 0
    /// From the start of the apply to its end.
    public var total: Double = 0

    public init() {}
}

/// Monotonic seconds, cheap enough to take around every 1 MiB buffer.
@inline(__always)
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
