@testable import Decant
import DecantTestSupport
import Synchronization
import Testing

/// Claims between pulls in one process. A failing pull waits for its own tasks before it gives up
/// its claims; one of them still waiting on another pull's claim, while that pull waits on one of
/// this pull's, would hold both forever. So a cancelled wait must end at once.
struct UnpackCoordinatorTests {
    /// What each waiting task got, by name.
    private final class Outcomes: Sendable {
        private let claims = Mutex<[String: UnpackCoordinator.Claim]>([:])
        func set(_ name: String, _ claim: UnpackCoordinator.Claim) { claims.withLock { $0[name] = claim } }
        subscript(name: String) -> UnpackCoordinator.Claim? { claims.withLock { $0[name] } }
    }

    private func isOwner(_ claim: UnpackCoordinator.Claim) -> Bool {
        if case .owner = claim { return true }
        return false
    }

    @Test func aCancelledWaiterGivesUpWhileTheOthersStillGetTheOutcome() async throws {
        let coordinator = UnpackCoordinator()
        #expect(isOwner(await coordinator.claim("k")))
        let outcomes = Outcomes()
        let cancelled = Task { outcomes.set("cancelled", await coordinator.claim("k")) }
        let patient = Task { outcomes.set("patient", await coordinator.claim("k")) }
        guard try await eventually({ await coordinator.waiting(for: "k") == 2 }) else {
            Issue.record("the waiters never queued")
            return
        }
        cancelled.cancel()
        let gaveUp = try await eventually { outcomes["cancelled"] != nil }
        #expect(gaveUp, "the cancelled waiter still waits for the owner")
        #expect(await coordinator.waiting(for: "k") == 1)
        await coordinator.finish("k", committed: true)
        _ = await (cancelled.value, patient.value)
        guard case .cancelled = outcomes["cancelled"] else {
            Issue.record("cancelled waiter: \(String(describing: outcomes["cancelled"]))")
            return
        }
        guard case .waited(true) = outcomes["patient"] else {
            Issue.record("patient waiter: \(String(describing: outcomes["patient"]))")
            return
        }
    }

    @Test func aWaiterCancelledBeforeItQueuesDoesNotWait() async throws {
        let coordinator = UnpackCoordinator()
        #expect(isOwner(await coordinator.claim("k")))
        let outcomes = Outcomes()
        let waiter = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            outcomes.set("waiter", await coordinator.claim("k"))
        }
        let ended = try await eventually { outcomes["waiter"] != nil }
        #expect(ended, "a cancelled task queued on the claim")
        await coordinator.finish("k", committed: false)
        await waiter.value
        guard case .cancelled = outcomes["waiter"] else {
            Issue.record("waiter: \(String(describing: outcomes["waiter"]))")
            return
        }
    }
}
