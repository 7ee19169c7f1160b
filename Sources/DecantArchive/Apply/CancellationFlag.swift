import Synchronization

/// Asks running applications to stop at the next entry (a pull that failed elsewhere, Ctrl-C).
/// Shared by every layer of one pull; checking it is one relaxed atomic load per entry.
public final class CancellationFlag: Sendable {
    private let cancelled = Atomic<Bool>(false)

    public init() {}

    public func cancel() { cancelled.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
}
