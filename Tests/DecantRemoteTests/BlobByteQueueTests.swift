@testable import DecantRemote
import Foundation
import NIOCore
import Testing

/// The hand-off from a registry transfer to the thread that reads the blob, as the pull's
/// download admission sees it.
@Suite(.timeLimit(.minutes(1)))
struct BlobByteQueueTests {
    /// A reader blocked on a transfer that has stalled altogether counts as waiting while it still
    /// waits, not only once bytes arrive: otherwise a dead-slow network looks like a fast one.
    @Test func aWaitInProgressCountsAsWaiting() async throws {
        let queue = BlobByteQueue(location: "test")
        let done = DispatchSemaphore(value: 0)
        let read = ReadResult()
        Thread {
            var bytes = [UInt8](repeating: 0, count: 16)
            read.count = bytes.withUnsafeMutableBytes { (try? queue.read(into: $0)) ?? -1 }
            done.signal()
        }.start()
        try await Task.sleep(for: .milliseconds(300))
        let waiting = queue.readerWaiting
        #expect(waiting >= .milliseconds(250), "\(waiting)")
        #expect(await queue.push(ByteBuffer(bytes: [1, 2, 3])))
        done.wait()
        #expect(read.count == 3)
        // Once the wait is over it is counted once, and no longer grows.
        let after = queue.readerWaiting
        try await Task.sleep(for: .milliseconds(100))
        #expect(queue.readerWaiting == after)
        #expect(after >= waiting)
    }

    private final class ReadResult: @unchecked Sendable {
        var count = 0
    }
}
