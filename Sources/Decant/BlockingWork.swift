import Foundation

/// Runs blocking work (fsync, a layer's file writes) on a thread of its own, so that Swift
/// concurrency's cooperative threads never wait on the disk.
enum BlockingWork {
    static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = name
            thread.start()
        }
    }
}
