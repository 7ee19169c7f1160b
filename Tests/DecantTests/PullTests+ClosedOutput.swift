import Decant
import DecantStore
import DecantTestSupport
import Foundation
import Testing

extension PullTests {
    /// `decant pull --json` whose reader has gone (`| head -1`): the pull is not cut off half way
    /// by SIGPIPE; it completes (image recorded, every snapshot committed, none left active) and
    /// the command fails, saying it could not print its result.
    @Test func aPullWhoseOutputIsClosedCompletesAndFails() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, root, reference) = try await commandLineSetup("closed-output", image: "shared-a")
        defer { withExtendedLifetime(scratch) {} }
        // `true` exits before decant starts, so decant's first write finds no reader.
        let script = "{ sleep 0.2; DECANT_ROOT='\(root)' exec '\(Repository.decant)' pull --json '\(reference)'; } | true; exit ${PIPESTATUS[0]}"
        let run = try await Shell.run(["bash", "-c", script])
        #expect(run.status == 1, "status \(run.status), stderr: \(run.stderr)")
        #expect(run.stderr.contains("cannot print the result: write standard output: Broken pipe"), "\(run.stderr)")

        let store = try Store(layout: StoreLayout(root: root))
        #expect(try store.images.list().map(\.name) == [reference])
        let snapshots = try store.overlay.walk(filters: [])
        #expect(snapshots.map(\.name).sorted() == fixtures.image("shared-a").chainIDs.sorted())
        #expect(snapshots.allSatisfy { $0.kind == .committed })
    }
}
