import DecantIO

/// Runs a test's blocking work (applying a layer, dumping a tree, waiting for a subprocess) on a
/// thread of its own, and waits for it without holding one of Swift concurrency's threads.
///
/// Swift Testing runs tests as tasks on the cooperative pool, which has a thread per core: two
/// on this machine. A test that blocks one of them for a minute halves what every other test's
/// tasks get, and the tests that measure time (a download's span, a wait that must be short)
/// fail. Expectations stay with the caller: an issue recorded on another thread has no test.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await BlockingWork.run("decant-test", body)
}
