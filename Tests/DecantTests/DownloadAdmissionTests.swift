@testable import Decant
import Testing

/// When a registry pull lets one more layer start: only after a whole window in which every slot
/// held a transfer whose reader mostly waited for the network, and a layer waited for a slot.
struct DownloadAdmissionTests {
    /// Feeds one ``DownloadAdmission`` samples taken `milliseconds` after a fixed start.
    private final class Samples {
        private let start = ContinuousClock.now
        var admission: DownloadAdmission

        init(floor: Int, ceiling: Int) { admission = DownloadAdmission(floor: floor, ceiling: ceiling) }

        var limit: Int { admission.limit }

        func admit(_ milliseconds: Int, _ waiting: [Int: Duration], queued: Bool = true) -> Bool {
            admission.admitsAnother(at: start + .milliseconds(milliseconds), waiting: waiting, queued: queued)
        }
    }

    @Test func starvedTransfersLetOneMoreLayerStartPerWindow() {
        let admission = Samples(floor: 2, ceiling: 4)
        #expect(!admission.admit(0, [0: .zero, 1: .zero]))
        // Waiting 80 % of the time, but the window is not over yet.
        #expect(!admission.admit(250, [0: .milliseconds(200), 1: .milliseconds(200)]))
        #expect(admission.admit(500, [0: .milliseconds(400), 1: .milliseconds(400)]))
        #expect(admission.limit == 3)
        // The next decision takes a window of its own, starting at the next sample, with the new layer in it.
        let three: [Int: Duration] = [0: .milliseconds(400), 1: .milliseconds(400), 2: .zero]
        #expect(!admission.admit(750, three))
        #expect(!admission.admit(1000, three.mapValues { $0 + .milliseconds(200) }))
        #expect(admission.admit(1250, three.mapValues { $0 + .milliseconds(400) }))
        #expect(admission.limit == 4)
        // Never past the ceiling.
        let four = three.merging([3: .zero]) { old, _ in old }
        #expect(!admission.admit(1500, four))
        #expect(!admission.admit(2500, four.mapValues { $0 + .seconds(1) }))
        #expect(admission.limit == 4)
    }

    @Test func transfersThatKeepUpLeaveTheLimitAlone() {
        let admission = Samples(floor: 2, ceiling: 3)
        var waiting: [Int: Duration] = [0: .zero, 1: .zero]
        for step in 0...20 {
            // 40 % of every window spent waiting: the cores, not the network, set the pace.
            #expect(!admission.admit(step * 250, waiting))
            waiting = waiting.mapValues { $0 + .milliseconds(100) }
        }
        #expect(admission.limit == 2)
    }

    /// A share is at most the whole window (the waits are read a little after the window's end):
    /// one transfer whose count ran ahead cannot outvote two that kept up.
    @Test func noTransferCountsForMoreThanTheWholeWindow() {
        let admission = Samples(floor: 3, ceiling: 4)
        #expect(!admission.admit(0, [0: .zero, 1: .zero, 2: .zero]))
        #expect(!admission.admit(500, [0: .seconds(5), 1: .zero, 2: .zero]))
        #expect(admission.limit == 3)
    }

    @Test func nothingStartsWithoutALayerWaitingForASlot() {
        let admission = Samples(floor: 1, ceiling: 3)
        #expect(!admission.admit(0, [0: .zero], queued: false))
        #expect(!admission.admit(1000, [0: .seconds(1)], queued: false))
        // A layer queues up: the window starts now, not at the samples taken before.
        #expect(!admission.admit(1250, [0: .milliseconds(1250)]))
        #expect(!admission.admit(1500, [0: .milliseconds(1500)]))
        #expect(admission.admit(1750, [0: .milliseconds(1750)]))
    }

    @Test func aSlotWithoutATransferOrATransferThatJustStartedSaysNothing() {
        // Two slots, one of them a layer read from the content store: no transfer to measure.
        let admission = Samples(floor: 2, ceiling: 3)
        #expect(!admission.admit(0, [0: .zero]))
        #expect(!admission.admit(500, [0: .milliseconds(500)]))
        // Its second layer's transfer appears mid-window: measured from the next window only.
        #expect(!admission.admit(1000, [0: .seconds(1), 1: .zero]))
        #expect(admission.admit(1500, [0: .milliseconds(1500), 1: .milliseconds(500)]))
    }

    @Test func theFloorIsAtLeastOneAndTheCeilingAtLeastTheFloor() {
        #expect(DownloadAdmission(floor: 0, ceiling: 0).limit == 1)
        #expect(DownloadAdmission(floor: 4, ceiling: 3).ceiling == 4)
        let admission = Samples(floor: 4, ceiling: 3)
        #expect(!admission.admit(0, [:]))
    }
}
