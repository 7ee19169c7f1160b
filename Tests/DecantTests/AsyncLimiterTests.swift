@testable import Decant
import Testing

struct AsyncLimiterTests {
    private actor Admissions {
        var order: [Int?] = []
        func append(_ ticket: Int?) { order.append(ticket) }
    }

    /// Holders arrive in the reverse of their tickets' order, one slot: they go ahead by ticket,
    /// the one without a ticket last.
    @Test func ticketsGoAheadInTheirOrderWhateverOrderTheyArriveIn() async {
        let limiter = AsyncLimiter(limit: 1, tickets: 3)
        let admitted = Admissions()
        await withTaskGroup(of: Void.self) { group in
            for (arrived, ticket) in [nil, 2, 1, 0].enumerated() {
                group.addTask {
                    await limiter.acquire(ticket: ticket)
                    await admitted.append(ticket)
                    await limiter.release()
                }
                // Queued before the next one starts (the last one is let in at once).
                var spins = 0
                while arrived < 3, await limiter.waiting <= arrived, spins < 100_000 {
                    spins += 1
                    await Task.yield()
                }
                if spins == 100_000 { Issue.record("holder \(arrived) never queued: the order is not tested") }
            }
        }
        #expect(await admitted.order == [0, 1, 2, nil])
    }

    @Test func raisingTheLimitLetsTheNextTicketIn() async {
        let limiter = AsyncLimiter(limit: 1, tickets: 2)
        await limiter.acquire(ticket: 0)
        let second = Task { await limiter.acquire(ticket: 1) }
        while await limiter.waiting == 0 { await Task.yield() }
        await limiter.raise()
        await second.value
        #expect(await limiter.waiting == 0)
    }
}
