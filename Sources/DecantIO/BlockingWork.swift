import Foundation

/// Runs blocking work (fsync, a layer's file writes, waiting on a lock or a subprocess) on a
/// thread of its own, so that Swift concurrency's cooperative threads never wait on it.
public enum BlockingWork {
    /// Runs `body` on a new thread named `name`, and waits for it without blocking the caller's.
    public static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = name
            thread.start()
        }
    }
}
