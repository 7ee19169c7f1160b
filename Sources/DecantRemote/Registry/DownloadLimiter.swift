import Synchronization

/// At most `limit` blob downloads at once to one registry host, across every pull of the process.
final class DownloadLimiter: Sendable {
    private struct State {
        var running: [String: Int] = [:]
        var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]
    }

    static let shared = DownloadLimiter()
    private let state = Mutex(State())

    func acquire(_ host: String, limit: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { state in
                if state.running[host, default: 0] < limit {
                    state.running[host, default: 0] += 1
                    return true
                }
                state.waiting[host, default: []].append(continuation)
                return false
            }
            if admitted { continuation.resume() }
        }
    }

    /// Hands the slot to the next waiter, if any.
    func release(_ host: String) {
        let next: CheckedContinuation<Void, Never>? = state.withLock { state in
            if var queue = state.waiting[host], !queue.isEmpty {
                let first = queue.removeFirst()
                state.waiting[host] = queue
                return first
            }
            state.running[host, default: 1] -= 1
            return nil
        }
        next?.resume()
    }
}
