/// Two pulls in this process that need the same snapshot unpack it once: the first to claim a
/// chainID extracts and commits it; the others wait for it and reuse what it committed.
actor UnpackCoordinator {
    static let shared = UnpackCoordinator()

    enum Claim {
        case owner
        /// Someone else is unpacking it; `true` once they committed it, `false` if they failed.
        case waited(Bool)
        /// The waiting task was cancelled before the owner finished.
        case cancelled
    }

    private var waiters: [String: [(id: Int, continuation: CheckedContinuation<Bool?, Never>)]] = [:]
    private var nextID = 0

    /// Claims `key`, or waits for its owner to finish with it. A cancelled wait ends at once: a
    /// failing pull waits for its own tasks before it gives up its claims, so a task of it still
    /// waiting on another pull's claim (which may wait on one of this pull's) must not hold it.
    func claim(_ key: String) async -> Claim {
        if tryClaim(key) { return .owner }
        let id = nextID
        nextID += 1
        let committed = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool?, Never>) in
                if Task.isCancelled {
                    continuation.resume(returning: nil)
                } else {
                    waiters[key]!.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.abandon(key, id: id) }
        }
        return committed.map { .waited($0) } ?? .cancelled
    }

    /// Claims `key` if nobody else has: `true` makes the caller its owner.
    func tryClaim(_ key: String) -> Bool {
        guard waiters[key] == nil else { return false }
        waiters[key] = []
        return true
    }

    func finish(_ key: String, committed: Bool) {
        for waiter in waiters.removeValue(forKey: key) ?? [] { waiter.continuation.resume(returning: committed) }
    }

    /// How many wait for `key`'s owner.
    func waiting(for key: String) -> Int { waiters[key]?.count ?? 0 }

    private func abandon(_ key: String, id: Int) {
        guard let index = waiters[key]?.firstIndex(where: { $0.id == id }) else { return }
        waiters[key]!.remove(at: index).continuation.resume(returning: nil)
    }
}
