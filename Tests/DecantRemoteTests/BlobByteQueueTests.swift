@_spi(Benchmarks) @testable import DecantRemote
import DecantTestSupport
import Foundation
import NIOCore
import Synchronization
import Testing

/// The hand-off from a registry transfer to the thread that reads the blob, as the pull's
/// download admission sees it.
struct BlobByteQueueTests {
    /// A reader blocked on a transfer that has stalled altogether counts as waiting while it still
    /// waits, not only once bytes arrive: otherwise a dead-slow network looks like a fast one.
    @Test func aWaitInProgressCountsAsWaiting() async throws {
        let queue = BlobByteQueue(location: "test")
        queue.transferring(true)
        let read = Mutex<Int?>(nil)
        Thread {
            var bytes = [UInt8](repeating: 0, count: 16)
            let count = bytes.withUnsafeMutableBytes { (try? queue.read(into: $0)) ?? -1 }
            read.withLock { $0 = count }
        }.start()
        // However late the thread starts: from its first wait on, the wait shows and grows.
        guard try await eventually({ queue.readerWaiting > .zero }) else {
            Issue.record("the blocked reader's wait never showed")
            return
        }
        let blocked = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(200))
        let sampled = ContinuousClock.now
        let waiting = queue.readerWaiting
        #expect(waiting >= sampled - blocked, "\(waiting)")
        #expect(await queue.push(ByteBuffer(repeating: 1, count: 16)))
        guard try await eventually({ read.withLock { $0 } != nil }) else {
            Issue.record("the reader never got the bytes")
            return
        }
        #expect(read.withLock { $0 } == 16)
        // Once the wait is over it is counted once, and no longer grows.
        let after = queue.readerWaiting
        try await Task.sleep(for: .milliseconds(100))
        #expect(queue.readerWaiting == after)
        #expect(after >= waiting)
    }

    /// A transfer waiting for a download slot (the per-host limit) or backing off before a retry
    /// is not the network keeping the reader waiting: only the time it holds a slot counts.
    @Test func aWaitForADownloadSlotDoesNotCount() async throws {
        let queue = BlobByteQueue(location: "test")
        let reading = DispatchSemaphore(value: 0)
        let read = Mutex<Int?>(nil)
        Thread {
            var bytes = [UInt8](repeating: 0, count: 16)
            reading.signal()
            let count = bytes.withUnsafeMutableBytes { (try? queue.read(into: $0)) ?? -1 }
            read.withLock { $0 = count }
        }.start()
        guard reading.wait(timeout: .now() + 10) == .success else {
            Issue.record("the reader thread never started")
            return
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(queue.readerWaiting == .zero, "waiting for a slot counted: \(queue.readerWaiting)")
        let active = ContinuousClock.now
        queue.transferring(true)
        // However late the reader gets to its wait, part of it falls in the transfer's time.
        guard try await eventually({ queue.readerWaiting > .zero }) else {
            Issue.record("the blocked reader's wait never showed")
            return
        }
        try await Task.sleep(for: .milliseconds(100))
        queue.transferring(false)
        let inactive = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(200))
        let waiting = queue.readerWaiting
        #expect(waiting > .zero && waiting <= inactive - active, "\(waiting)")
        #expect(await queue.push(ByteBuffer(repeating: 1, count: 16)))
        guard try await eventually({ read.withLock { $0 } != nil }) else {
            Issue.record("the reader never got the bytes")
            return
        }
        #expect(queue.readerWaiting == waiting)
    }

    /// The sizes of a reader's reads, as it makes them.
    private final class Reads: Sendable {
        private let sizes = Mutex<[Int]>([])

        func withLock<T>(_ body: ([Int]) -> T) -> T { sizes.withLock { body($0) } }
        func append(_ size: Int) { sizes.withLock { $0.append(size) } }
    }

    /// A queue with an active transfer and a reader on its own thread, reading into 1 MiB until
    /// the end of the blob, once that reader waits for bytes; `nil` (an issue recorded) if it
    /// never does.
    private static func blockedReader(batchWait: Duration) async throws -> (BlobByteQueue, Reads)? {
        let queue = BlobByteQueue(batchWait: batchWait, location: "test")
        queue.transferring(true)
        let reads = Reads()
        Thread {
            var bytes = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let count = bytes.withUnsafeMutableBytes { (try? queue.read(into: $0)) ?? -1 }
                reads.append(count)
                if count <= 0 { return }
            }
        }.start()
        guard try await eventually({ queue.readerWaiting > .zero }) else {
            Issue.record("the reader never blocked")
            queue.finish(.success(()))
            return nil
        }
        return (queue, reads)
    }

    /// A blocked reader is woken for a batch of bytes, not for every chunk the connection
    /// delivers: each wake costs a futex call and a context switch.
    @Test func aBlockedReaderWakesForABatchNotForEveryChunk() async throws {
        guard let (queue, reads) = try await Self.blockedReader(batchWait: .seconds(600)) else { return }
        let chunk = 1 << 10
        for _ in 0..<(BlobByteQueue.wakeBytes / chunk - 1) {
            #expect(await queue.push(ByteBuffer(repeating: 7, count: chunk)))
        }
        // A reader woken per chunk would have read by now.
        try await Task.sleep(for: .milliseconds(200))
        #expect(reads.withLock { $0 }.isEmpty, "\(reads.withLock { $0 })")
        #expect(await queue.push(ByteBuffer(repeating: 7, count: chunk)))
        guard try await eventually({ !reads.withLock { $0 }.isEmpty }) else {
            Issue.record("a whole batch did not wake the reader")
            queue.finish(.success(()))
            return
        }
        queue.finish(.success(()))
        guard try await eventually({ reads.withLock { $0.last } == 0 }) else {
            Issue.record("the reader never reached the end: \(reads.withLock { $0 })")
            return
        }
        #expect(reads.withLock { $0 } == [BlobByteQueue.wakeBytes, 0])
    }

    /// On a slow link the reader does not wait for a whole batch: once bytes are there it takes
    /// them after `batchWait`.
    @Test func aSlowLinkIsReadAsItsBytesCome() async throws {
        guard let (queue, reads) = try await Self.blockedReader(batchWait: .milliseconds(20)) else { return }
        #expect(await queue.push(ByteBuffer(repeating: 7, count: 1000)))
        let arrived = try await eventually { !reads.withLock { $0 }.isEmpty }
        queue.finish(.success(()))
        #expect(arrived, "the reader waited on for a whole batch")
        #expect(reads.withLock { $0.first } == 1000)
    }

    /// What is left when the transfer ends is read at once, however little, also by a reader
    /// already waiting for more.
    @Test func theEndReleasesWhatIsLeft() async throws {
        let queue = BlobByteQueue(location: "test")
        #expect(await queue.push(ByteBuffer(bytes: [1, 2, 3])))
        queue.finish(.success(()))
        var bytes = [UInt8](repeating: 0, count: 1 << 20)
        let first = try bytes.withUnsafeMutableBytes { try queue.read(into: $0) }
        let second = try bytes.withUnsafeMutableBytes { try queue.read(into: $0) }
        #expect(first == 3)
        #expect(Array(bytes[..<3]) == [1, 2, 3])
        #expect(second == 0)

        guard let (waiting, reads) = try await Self.blockedReader(batchWait: .seconds(600)) else { return }
        #expect(await waiting.push(ByteBuffer(bytes: [1, 2, 3])))
        try await Task.sleep(for: .milliseconds(50))
        waiting.finish(.success(()))
        guard try await eventually({ reads.withLock { $0.last } == 0 }) else {
            Issue.record("the end did not release the reader: \(reads.withLock { $0 })")
            return
        }
        #expect(reads.withLock { $0 } == [3, 0])
    }

    /// A chunk cut from a much larger read buffer is copied, so that the queue's limit, which
    /// counts bytes, also bounds the memory it keeps alive; a well-filled one is kept as it is.
    @Test func aSmallSliceOfABigBufferIsCopied() async throws {
        let queue = BlobByteQueue(location: "test")
        var big = ByteBuffer(repeating: 9, count: 256 << 10)
        let slice = big.readSlice(length: 1000)!
        #expect(await queue.push(slice))
        #expect(queue.heldCapacity < 64 << 10, "\(queue.heldCapacity)")
        #expect(await queue.push(big))
        #expect(queue.heldCapacity >= 256 << 10 && queue.heldCapacity < 320 << 10, "\(queue.heldCapacity)")
        var bytes = [UInt8](repeating: 0, count: 1 << 20)
        queue.finish(.success(()))
        let count = try bytes.withUnsafeMutableBytes { try queue.read(into: $0) }
        #expect(count == 256 << 10)
        #expect(bytes[..<count].allSatisfy { $0 == 9 })
    }
}
