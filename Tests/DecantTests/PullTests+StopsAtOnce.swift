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
}
