import Foundation
import Synchronization

/// A value many tests need and one of them makes, once, on a thread of its own (generated
/// fixtures: tens of seconds of scripts, containerd and skopeo). Callers wait without holding a
/// thread of the cooperative pool: a lazy `static let` blocks them there instead, and on a
/// two-core machine that stops every other test for as long as the generation takes, so that
/// tests whose steps are ordered by waits see them out of order.
public final class SharedFixture<Value: Sendable>: Sendable {
    private enum State {
        case idle
        case making([CheckedContinuation<Value, any Error>])
        case made(Result<Value, any Error>)
    }

    private let state = Mutex<State>(.idle)
    private let name: String
    private let make: @Sendable () throws -> Value

    /// `make` runs on the first call of ``get()``, on a thread named after `name`.
    public init(_ name: String, make: @escaping @Sendable () throws -> Value) {
        self.name = name
        self.make = make
    }

    /// The value, or the error making it threw (to every caller, without trying again).
    public func get() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let (made, first): (Result<Value, any Error>?, Bool) = state.withLock { state in
                switch state {
                case .idle:
                    state = .making([continuation])
                    return (nil, true)
                case .making(var waiting):
                    waiting.append(continuation)
                    state = .making(waiting)
                    return (nil, false)
                case .made(let result):
                    return (result, false)
                }
            }
            if let made { continuation.resume(with: made) }
            if first { start() }
        }
    }

    private func start() {
        let thread = Thread { [self] in
            let result = Result { try make() }
            let waiting = state.withLock { state in
                guard case .making(let waiting) = state else { preconditionFailure("made once") }
                state = .made(result)
                return waiting
            }
            for continuation in waiting { continuation.resume(with: result) }
        }
        thread.name = name
        thread.start()
    }
}
