/// Two pulls in this process that need the same snapshot unpack it once: the first to claim a
/// chainID extracts and commits it; the others wait for it and reuse what it committed.
actor UnpackCoordinator {
    static let shared = UnpackCoordinator()

    enum Claim {
        case owner
        /// Someone else is unpacking it; `true` once they committed it, `false` if they failed.
        case waited(Bool)
    }

    private var waiters: [String: [CheckedContinuation<Bool, Never>]] = [:]

    func claim(_ key: String) async -> Claim {
        if tryClaim(key) { return .owner }
        let committed = await withCheckedContinuation { waiters[key]!.append($0) }
        return .waited(committed)
    }

    /// Claims `key` if nobody else has: `true` makes the caller its owner.
    func tryClaim(_ key: String) -> Bool {
        guard waiters[key] == nil else { return false }
        waiters[key] = []
        return true
    }

    func finish(_ key: String, committed: Bool) {
        for waiter in waiters.removeValue(forKey: key) ?? [] { waiter.resume(returning: committed) }
    }
}
