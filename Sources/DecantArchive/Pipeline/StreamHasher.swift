import DecantOCI
import Foundation

/// Hashes a layer's uncompressed stream (its diff_id) on a thread of its own, reading each decoded
/// buffer while the applying thread writes it out.
///
/// The decoding thread used to hash too. Inflating and hashing a big-file layer is about 1.5 s
/// plus 0.8 s of one core: a layer that runs alone (a one-layer image, the last layer of a pull)
/// was bound by that thread while the second core wrote files for a fraction of the time. Now a
/// layer keeps up to three threads busy: inflate, hash, write.
final class StreamHasher: @unchecked Sendable {
    private let queue: ChunkQueue
    private let done = DispatchSemaphore(value: 0)
    // Written by the hashing thread before it signals `done`; read after `wait()`.
    private var digest: Digest?
    private var size: Int64 = 0
    private var seconds: Double = 0

    /// Starts hashing what `queue`'s tap receives.
    init(queue: ChunkQueue) {
        self.queue = queue
        let thread = Thread { [self] in
            run()
            done.signal()
        }
        thread.name = "decant-hash"
        thread.start()
    }

    /// Waits for the end of the stream: its digest and size, or `nil` when it did not end well
    /// (the decoder failed, or the consumer gave up); and the time spent hashing.
    func wait() -> (stream: (digest: Digest, size: Int64)?, seconds: Double) {
        done.wait()
        return (digest.map { ($0, size) }, seconds)
    }

    private func run() {
        var hasher = DigestHasher()
        while true {
            switch queue.tapReceive() {
            case .success(let buffer):
                let start = monotonicSeconds()
                hasher.update(buffer.bytes)
                seconds += monotonicSeconds() - start
                size += Int64(buffer.count)
                queue.recycle(buffer)
            case .failure(.finished):
                digest = hasher.finalize()
                return
            case .failure(.failed):
                return
            }
        }
    }
}
