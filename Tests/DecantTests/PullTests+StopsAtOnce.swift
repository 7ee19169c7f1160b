@testable import Decant
import DecantStore
import DecantTestSupport
import Foundation
import Synchronization
import Testing

extension PullTests {
    /// A layer another pull in this process is unpacking is waited for; should this pull fail on
    /// a layer of its own meanwhile, or be cancelled, it ends at once, not once the other pull is
    /// done with that layer. The other pull is played by holding the layer's claim.
    @Test(arguments: ["a layer fails", "the pull is cancelled"])
    func aPullThatStopsDoesNotWaitForAnotherPullsLayer(_ why: String) async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("stops-at-once")
        defer { withExtendedLifetime(scratch) {} }
        let image = why == "a layer fails" ? "bad-diffid" : "shared-a"
        let chain0 = try #require(fixtures.image(image).chainIDs.first)
        let claim = store.layout.root + " " + chain0
        #expect(await UnpackCoordinator.shared.tryClaim(claim), "nobody else claimed the layer")

        let outcome = Mutex<Result<PullResult, PullError>?>(nil)
        let pull = Task {
            let result: Result<PullResult, PullError>
            do throws(PullError) {
                result = .success(try await Puller(store: store).pull("oci:" + fixtures.path(image) + ":latest"))
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
        }
        // Once it waits for the claimed layer (or has already ended: a layer of its own can fail
        // first, which is what is tested too).
        let waits = try await eventually {
            await UnpackCoordinator.shared.waiting(for: claim) == 1 || outcome.withLock { $0 != nil }
        }
        #expect(waits, "the pull waits for the claimed layer")
        if why == "the pull is cancelled" { pull.cancel() }
        let ended = try await eventually(within: .seconds(20)) { outcome.withLock { $0 != nil } }
        #expect(ended, "\(why), yet the pull still waits for the other pull's layer")
        await UnpackCoordinator.shared.finish(claim, committed: false)
        await pull.value

        guard case .failure(let error)? = outcome.withLock({ $0 }) else {
            Issue.record("\(why): the pull did not fail")
            return
        }
        #expect(error.code == (why == "a layer fails" ? "digest-mismatch" : "cancelled"), "\(error)")
        #expect(await UnpackCoordinator.shared.waiting(for: claim) == 0)
        #expect(try store.overlay.walk(filters: []).isEmpty)
        #expect(try store.images.list().isEmpty)
    }

    /// A pull cancelled once its layers are extracted, while it commits them one by one: it
    /// commits no further layer, records no image, and what it committed goes again.
    @Test func aPullCancelledWhileItCommitsCommitsNothingMore() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, store) = try freshStore("cancel-at-commit")
        defer { withExtendedLifetime(scratch) {} }
        let trigger = CancelOnEvent(type: "snapshot-commit")
        // Held until the trigger knows the task, so that the first commit cannot come first.
        let gate = Mutex(false)
        let pull = Task { () -> PullError? in
            while !gate.withLock({ $0 }) { await Task.yield() }
            do throws(PullError) {
                _ = try await Puller(store: store).pull("oci:" + fixtures.path("multi") + ":latest",
                                                        options: PullOptions(unpackConcurrency: 4, events: trigger))
                return nil
            } catch {
                return error
            }
        }
        trigger.cancel(pull)
        gate.withLock { $0 = true }
        let error = await pull.value
        #expect(trigger.hasFired)
        #expect(error?.code == "cancelled", "\(String(describing: error))")
        #expect(try store.overlay.walk(filters: []).isEmpty)
        #expect(try store.images.list().isEmpty)
    }
}

/// Cancels a task when the first event of a type is emitted.
final class CancelOnEvent: EventSink, @unchecked Sendable {
    private let type: String
    private let task = Mutex<Task<PullError?, Never>?>(nil)
    private let fired = Mutex(false)

    init(type: String) {
        self.type = type
    }

    func cancel(_ task: Task<PullError?, Never>) {
        self.task.withLock { $0 = task }
    }

    var hasFired: Bool { fired.withLock { $0 } }

    func emit(_ event: Event) {
        guard event.type == type, !fired.withLock({ $0 }) else { return }
        fired.withLock { $0 = true }
        task.withLock { $0 }?.cancel()
    }
}
