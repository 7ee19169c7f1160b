/// At most `limit` holders at once, let in by ticket: ticket `n` goes ahead only after every lower
/// ticket, whatever order the tasks holding them happen to run in, and holders without a ticket
/// only after all of them. That is what makes "biggest layer first" hold: tasks started in that
/// order do not reach the limiter in that order.
actor AsyncLimiter {
    private var available: Int
    private let tickets: Int
    private var next = 0
    private var ticketed: [Int: CheckedContinuation<Void, Never>] = [:]
    private var unticketed: [CheckedContinuation<Void, Never>] = []

    /// `tickets`: how many holders come with a ticket (numbered from 0, each used once).
    init(limit: Int, tickets: Int) {
        available = limit
        self.tickets = tickets
    }

    /// Waits for a slot and for `ticket`'s turn; `nil` queues after every ticket. Each ticket in
    /// `0..<tickets` must be used exactly once: a ticket never used holds back every later one.
    func acquire(ticket: Int?) async {
        await withCheckedContinuation { continuation in
            if let ticket {
                precondition((next..<tickets).contains(ticket) && ticketed[ticket] == nil,
                             "AsyncLimiter ticket \(ticket) used twice or out of 0..<\(tickets)")
                ticketed[ticket] = continuation
            } else {
                unticketed.append(continuation)
            }
            admit()
        }
    }

    /// How many wait for a slot.
    var waiting: Int { ticketed.count + unticketed.count }

    /// One more holder at once from now on.
    func raise() {
        release()
    }

    func release() {
        available += 1
        admit()
    }

    private func admit() {
        while available > 0 {
            if next < tickets {
                guard let waiter = ticketed.removeValue(forKey: next) else { return }
                next += 1
                available -= 1
                waiter.resume()
            } else {
                guard !unticketed.isEmpty else { return }
                available -= 1
                unticketed.removeFirst().resume()
            }
        }
    }
}
