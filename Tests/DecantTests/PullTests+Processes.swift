import Decant
import DecantStore
import DecantTestSupport
import Foundation
import Testing

extension PullTests {
    /// Several `decant pull` processes started at once on one new store, as a node prewarming
    /// its images in parallel runs them: they take turns creating and opening the store, wait for
    /// each other's blobs, and each layer is committed once, by one of them. None fails, and
    /// nothing is left active, half-ingested or unreferenced on disk.
    @Test func pullsInSeveralProcessesShareOneStore() async throws {
        let fixtures = try await ImageFixtures.get()
        let scratch = try Scratch("processes")
        let names = ["shared-a", "shared-b", "shared-a", "shared-b"]
        let references = names.map { "oci:" + fixtures.path($0) + ":latest" }
        let chainIDs = Set(names.flatMap { fixtures.image($0).chainIDs })
        // Each round is a new race; the window (all of them opening a store that does not exist
        // yet, writing the same manifests, committing the same layers) is a few milliseconds.
        for round in 0..<3 {
            let root = scratch.url.appendingPathComponent("root-\(round)").path
            let output = try scratch.directory("output-\(round)")
            var script = "pids=()\n"
            for (index, reference) in references.enumerated() {
                script += "DECANT_ROOT='\(root)' '\(Repository.decant)' pull --json '\(reference)' "
                    + "> '\(output.path)/\(index).json' 2> '\(output.path)/\(index).err' & pids+=($!)\n"
            }
            script += "for pid in \"${pids[@]}\"; do wait $pid; echo $?; done\n"
            let statuses = try await Shell.check(["bash", "-c", script]).stdout.split(separator: "\n").map(String.init)
            var unpacked = 0
            for (index, status) in statuses.enumerated() {
                let stderr = (try? String(contentsOf: output.appendingPathComponent("\(index).err"), encoding: .utf8)) ?? ""
                #expect(status == "0", "round \(round), pull \(index) (\(names[index])): status \(status): \(stderr)")
                let lines = try String(contentsOf: output.appendingPathComponent("\(index).json"), encoding: .utf8)
                    .split(separator: "\n")
                guard let last = lines.last,
                      let result = try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any],
                      let layers = result["layers"] as? [[String: Any]] else { continue }
                unpacked += layers.filter { $0["status"] as? String == "unpacked" }.count
            }
            #expect(statuses.count == references.count)

            let store = try Store(layout: StoreLayout(root: root))
            #expect(try Set(store.images.list().map(\.name)) == Set(references), "round \(round)")
            let snapshots = try store.overlay.walk(filters: [])
            #expect(Set(snapshots.map(\.name)) == chainIDs, "round \(round): \(snapshots.map { "\($0.name) \($0.kind)" })")
            #expect(snapshots.allSatisfy { $0.kind == .committed }, "round \(round)")
            #expect(unpacked == chainIDs.count, "round \(round): \(unpacked) layers reported unpacked, \(chainIDs.count) committed")
            let directories = try FileManager.default.contentsOfDirectory(atPath: store.layout.snapshots("overlay"))
            #expect(directories.count == chainIDs.count, "round \(round): snapshot directories \(directories.sorted())")
            #expect(try store.content.ingests().isEmpty, "round \(round)")
        }
    }
}

extension PullTests {
    /// A pull killed (SIGKILL, in the middle of committing a layer) cannot release its lease, but
    /// the next `decant gc` sees the process has ended and removes what it left at once —
    /// extraction snapshots, stored blobs, the lease — instead of a day later when the lease
    /// expires; and the next pull starts from a clean store.
    @Test func theNextCollectionCleansUpAfterAKilledPull() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, root, reference) = try await commandLineSetup("killed-pull", image: "multi")
        defer { withExtendedLifetime(scratch) {} }
        func decant(_ arguments: [String]) async throws -> Shell.Output {
            try await Repository.runDecant(arguments, root: root)
        }
        let killed = try await Repository.runDecant(["pull", reference], root: root,
                                                    environment: ["DECANT_FAILPOINT": "snapshot-commit-in-transaction"])
        #expect(killed.status == SIGKILL, "killed at the failpoint: \(killed.stderr)")
        let store = try Store(layout: StoreLayout(root: root))
        let lease = try #require(try store.leases.list().first)
        #expect(lease.labels["decant.pull"] == reference)
        #expect(try store.overlay.walk(filters: []).contains { $0.kind == .active && $0.name.hasPrefix("extract-") })
        #expect(try !store.content.list().isEmpty)

        let listed = try await decant(["leases", "ls"])
        #expect(listed.stdout.split(separator: "\n").contains { $0.hasPrefix(lease.id) && $0.contains(" ended ") }, "\(listed.stdout)")
        let collected = try await decant(["gc"])
        #expect(collected.status == 0, "\(collected.stderr)")
        #expect(collected.stdout.contains("removed lease \(lease.id): the process holding it has ended"), "\(collected.stdout)")
        #expect(try store.leases.list().isEmpty)
        #expect(try store.overlay.walk(filters: []).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.layout.snapshots("overlay")).isEmpty)
        #expect(try store.content.list().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.layout.leaseHolders).isEmpty)

        let pulled = try await decant(["pull", reference])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(try store.overlay.walk(filters: []).map(\.name).sorted() == fixtures.image("multi").chainIDs.sorted())
        #expect(try store.leases.list().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.layout.leaseHolders).isEmpty)
    }
}

extension PullTests {
    /// `decant gc` run over and over in other processes while a pull runs: a running pull's lease
    /// is never taken for abandoned, and the pull completes as if alone.
    @Test func collectionsInOtherProcessesLeaveARunningPullAlone() async throws {
        let fixtures = try await ImageFixtures.get()
        let (scratch, root, reference) = try await commandLineSetup("gc-processes", image: "multi")
        defer { withExtendedLifetime(scratch) {} }
        let output = try scratch.directory("output")
        let script = """
            DECANT_ROOT='\(root)' '\(Repository.decant)' pull '\(reference)' > '\(output.path)/pull.out' 2>&1 & pull=$!
            while kill -0 $pull 2>/dev/null; do DECANT_ROOT='\(root)' '\(Repository.decant)' gc >> '\(output.path)/gc.out' 2>&1 || echo "gc failed: $?" >> '\(output.path)/gc.out'; done
            wait $pull
            """
        let run = try await Shell.run(["bash", "-c", script])
        let pulled = try String(contentsOf: output.appendingPathComponent("pull.out"), encoding: .utf8)
        let collected = try String(contentsOf: output.appendingPathComponent("gc.out"), encoding: .utf8)
        #expect(run.status == 0, "\(pulled)")
        #expect(collected.components(separatedBy: " freed\n").count > 2, "at least two collections ran during the pull: \(collected)")
        #expect(!collected.contains("has ended") && !collected.contains("gc failed"), "\(collected)")
        let store = try Store(layout: StoreLayout(root: root))
        let snapshots = try store.overlay.walk(filters: [])
        #expect(snapshots.map(\.name).sorted() == fixtures.image("multi").chainIDs.sorted())
        #expect(snapshots.allSatisfy { $0.kind == .committed })
        #expect(try store.leases.list().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.layout.leaseHolders).isEmpty)
    }
}
