import DecantIO
import Synchronization

/// A value many tests need and one of them makes, once, on a thread of its own (generated
/// fixtures: tens of seconds of scripts, containerd and skopeo). Callers wait without holding a
/// thread of the cooperative pool: a lazy `static let` blocks them there instead, and on a
/// two-core machine that stops every other test for as long as the generation takes, so that
/// tests whose steps are ordered by waits see them out of order.
public final class SharedFixture<Value: Sendable>: Sendable {
    private let making = Mutex<Task<Value, any Error>?>(nil)
    private let name: String
    private let make: @Sendable () throws -> Value

    /// `make` runs on the first call of ``get()``, on a thread named after `name`.
    public init(_ name: String, make: @escaping @Sendable () throws -> Value) {
        self.name = name
        self.make = make
    }

    /// The value, or the error making it threw (to every caller, without trying again).
    public func get() async throws -> Value {
        let task = making.withLock { making in
            if let making { return making }
            let task = Task { [name, make] in try await BlockingWork.run(name, make) }
            making = task
            return task
        }
        return try await task.value
    }
}
