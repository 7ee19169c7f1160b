/// Polls `condition` every 2 ms until it holds or `timeout` has passed, and says whether it held.
/// For a test waiting on another thread or task: it blocks no cooperative thread, and it ends even
/// when the code under test never gets there.
public func eventually(within timeout: Duration = .seconds(10), _ condition: () async -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while await !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(2))
    }
    return true
}
