import DecantIO
import Foundation
import NIOCore
import SystemPackage

/// Hands a blob's bytes from the network (async, on NIO's event loops) to the thread that hashes
/// and inflates them (blocking reads), holding at most about `limit` bytes: when it is full the
/// download is suspended (not a thread), which pushes back on the connection.
///
/// A blocked reader is woken once ``wakeBytes`` are there (or what it asked for, if less), not
/// for every chunk the connection delivers: waking it per chunk cost a futex round trip and a
/// context switch per chunk on a loopback pull, where the network is about as fast as the
/// reader. Once the first bytes are there it waits ``batchWait`` at most for the rest, so that a
/// slow link still delivers (and shows progress) as its bytes come.
///
/// A chunk that fills less than a quarter of the buffer it was read into is copied: it would
/// keep the whole buffer (up to ``RegistryConnectionReads/maximum``) alive while `limit` counts
/// only its bytes.
///
/// `@_spi(Benchmarks)`: visible to Benchmarks/ (the per-stage benchmarks) only; internal otherwise.
@_spi(Benchmarks) public final class BlobByteQueue: @unchecked Sendable {
    /// How many bytes a blocked reader waits for, at most, before it is woken.
    static let wakeBytes = 256 << 10
    private let condition = NSCondition()
    private var chunks: [ByteBuffer] = []
    private var head = 0
    private var buffered = 0
    private var outcome: Result<Void, RemoteError>?
    private var readerGone = false
    private var spaceWaiter: CheckedContinuation<Void, Never>?
    private var lastProgress = ContinuousClock.now
    private(set) var produced: Int64 = 0
    private var waited: Duration = .zero
    /// Whether the reader is waiting for bytes now.
    private var readerBlocked = false
    /// How many bytes the blocked reader waits for.
    private var readerWants = 0
    /// Whether the transfer holds a download slot (see ``transferring(_:)``).
    private var transferActive = false
    /// Since when the wait the reader is in counts: it is blocked and the transfer is active.
    private var countingSince: ContinuousClock.Instant?
    let limit: Int
    /// How long a reader that has bytes waits for the rest of its batch, in seconds.
    let batchWait: TimeInterval
    /// Named in the error a failed read throws.
    let location: String

    @_spi(Benchmarks) public init(limit: Int = 4 << 20, batchWait: Duration = .milliseconds(10), location: String) {
        self.limit = limit
        self.batchWait = Double(batchWait.components.seconds) + Double(batchWait.components.attoseconds) * 1e-18
        self.location = location
    }

    /// Appends `buffer`, then suspends while more than `limit` bytes wait to be read. `false`
    /// once the reader has gone (the layer failed or was cancelled): stop downloading.
    @_spi(Benchmarks) public func push(_ buffer: ByteBuffer) async -> Bool {
        let kept = buffer.storageCapacity > 4 * buffer.readableBytes ? Self.copy(buffer) : buffer
        let full: Bool? = condition.withLock {
            if readerGone { return nil }
            let wasEmpty = buffered == 0
            chunks.append(kept)
            buffered += kept.readableBytes
            produced += Int64(kept.readableBytes)
            lastProgress = .now
            // An empty queue's reader waits without a deadline: the first bytes start its batch.
            if readerBlocked && (wasEmpty || buffered >= readerWants) { condition.signal() }
            return buffered > limit
        }
        guard let full else { return false }
        if full {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                condition.lock()
                if readerGone || buffered <= limit / 2 {
                    condition.unlock()
                    continuation.resume()
                } else {
                    spaceWaiter = continuation
                    condition.unlock()
                }
            }
            condition.withLock { lastProgress = .now }
        }
        return condition.withLock { !readerGone }
    }

    private static func copy(_ buffer: ByteBuffer) -> ByteBuffer {
        var copy = ByteBufferAllocator().buffer(capacity: buffer.readableBytes)
        copy.writeImmutableBuffer(buffer)
        return copy
    }

    /// The memory the queued chunks keep alive: their buffers' whole storage (a buffer counted
    /// once for every chunk cut from it).
    var heldCapacity: Int {
        condition.withLock { chunks[head...].reduce(0) { $0 + $1.storageCapacity } }
    }

    /// No byte arrived for `timeout` although the reader was keeping up (it is waiting for
    /// bytes, or has read them all).
    func isStalled(after timeout: Duration) -> Bool {
        condition.withLock {
            spaceWaiter == nil && (buffered == 0 || readerBlocked) && ContinuousClock.now - lastProgress > timeout
        }
    }

    /// The transfer got a download slot (`true`), or gave it up to wait for another or to back
    /// off before a retry (`false`). Only the reader's waits while the transfer holds a slot
    /// count as waiting for the network: a layer queued behind the per-host limit is not one the
    /// network keeps waiting.
    func transferring(_ active: Bool) {
        condition.withLock {
            let now = ContinuousClock.now
            if let since = countingSince { waited += now - since }
            transferActive = active
            countingSince = active && readerBlocked ? now : nil
        }
    }

    /// A new transfer starts, or bytes arrived that the reader does not get (a server that
    /// ignored a Range request resends the start): the time without progress counts from now.
    func markProgress() {
        condition.withLock { lastProgress = .now }
    }

    /// Ends the transfer (the first call counts): the reader takes what is left, then gets the
    /// end of the blob or, for a failure, an error.
    @_spi(Benchmarks) public func finish(_ result: Result<Void, RemoteError>) {
        condition.withLock {
            if outcome == nil { outcome = result }
            condition.broadcast()
        }
    }

    /// Why the transfer failed, once it has.
    var failure: RemoteError? {
        condition.withLock {
            if case .failure(let error) = outcome { return error }
            return nil
        }
    }

    /// Blocks until `destination` can be filled (or ``wakeBytes`` of it, when it is larger), the
    /// transfer ends, or ``batchWait`` has passed since bytes were first there; 0 at the end of
    /// the blob.
    @_spi(Benchmarks) public func read(into destination: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        condition.lock()
        let wanted = min(destination.count, Self.wakeBytes)
        if buffered < wanted && outcome == nil {
            readerBlocked = true
            readerWants = wanted
            if transferActive { countingSince = .now }
            var deadline: Date?
            while buffered < wanted && outcome == nil {
                if buffered == 0 {
                    condition.wait()
                } else {
                    let until = deadline ?? Date(timeIntervalSinceNow: batchWait)
                    deadline = until
                    if !condition.wait(until: until) { break }
                }
            }
            readerBlocked = false
            if let since = countingSince { waited += ContinuousClock.now - since }
            countingSince = nil
        }
        if head == chunks.count {
            let result = outcome
            condition.unlock()
            if case .failure = result { throw SystemCallError("download", path: location, errno: .ioError) }
            return 0
        }
        var copied = 0
        while copied < destination.count && head < chunks.count {
            let take = min(destination.count - copied, chunks[head].readableBytes)
            chunks[head].withUnsafeReadableBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: destination[copied..<(copied + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[..<take]))
            }
            chunks[head].moveReaderIndex(forwardBy: take)
            copied += take
            if chunks[head].readableBytes == 0 {
                head += 1
                if head > 64 { chunks.removeFirst(head); head = 0 }
            }
        }
        buffered -= copied
        let waiter = buffered <= limit / 2 ? spaceWaiter : nil
        if waiter != nil { spaceWaiter = nil }
        condition.unlock()
        waiter?.resume()
        return copied
    }

    /// How long the reader has waited for bytes while the transfer held a slot, in total,
    /// counting the wait it is in now: a transfer that has stalled altogether must not look like
    /// one that keeps up.
    var readerWaiting: Duration {
        condition.withLock { waited + (countingSince.map { ContinuousClock.now - $0 } ?? .zero) }
    }

    /// The transfer is called off: the reader gets no more bytes and, blocked or not, the error
    /// at once (also after a transfer that ended well: the bytes it has not read are dropped,
    /// and it must not take their absence for the blob's end); a suspended download resumes
    /// and sees it should stop.
    func cancel() {
        let waiter: CheckedContinuation<Void, Never>? = condition.withLock {
            outcome = .failure(RemoteError(.io, "\(location): the transfer was cancelled"))
            readerGone = true
            chunks = []
            head = 0
            buffered = 0
            condition.broadcast()
            defer { spaceWaiter = nil }
            return spaceWaiter
        }
        waiter?.resume()
    }

    /// The reader is done (or gave up): a suspended download resumes and sees it should stop.
    func closeReader() {
        let waiter: CheckedContinuation<Void, Never>? = condition.withLock {
            readerGone = true
            chunks = []
            head = 0
            buffered = 0
            defer { spaceWaiter = nil }
            return spaceWaiter
        }
        waiter?.resume()
    }
}
