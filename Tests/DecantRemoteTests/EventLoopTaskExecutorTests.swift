@testable import DecantRemote
import Foundation
import NIOCore
import NIOPosix
import Testing

/// Where a blob transfer runs: on the event loop that reads its connection, so that a body part
/// reaches it without a thread hop.
struct EventLoopTaskExecutorTests {
    /// The task runs on the loop from its start, and again after it was resumed from another
    /// thread (as the reading thread resumes a transfer that waited for room) or slept.
    @Test func aTaskPreferringTheExecutorRunsOnItsEventLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loop = group.next()
        let onLoop = await Task(executorPreference: EventLoopTaskExecutor(loop)) {
            var checks = [loop.inEventLoop]
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread { continuation.resume() }.start()
            }
            checks.append(loop.inEventLoop)
            try? await Task.sleep(for: .milliseconds(5))
            checks.append(loop.inEventLoop)
            return checks
        }.value
        #expect(onLoop == [true, true, true])
        try await group.shutdownGracefully()
    }
}
