import NIOCore

/// Runs the jobs of the tasks that prefer it on one NIO event loop.
///
/// A blob transfer runs here so that the connection it asks for is on this loop (AsyncHTTPClient
/// prefers the loop a request is made from), and each body part the loop reads reaches the
/// transfer on the same thread. On the cooperative pool, every body part woke a thread of the
/// pool that then went back to sleep: ≈ 0.1 CPU-s per gigabyte with 64 KiB parts, on machines
/// whose cores the extraction already keeps busy. Only work that never blocks may run here.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
