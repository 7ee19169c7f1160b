import DecantTestSupport
import Foundation
import Testing

/// The hostile layouts of `Tests/HostileLayouts/cases.py`, each pulled by the built `decant` into
/// a fresh store: paths and links that point out of the layer, whiteouts through symlinks,
/// devices, corrupt, truncated and mislabelled streams, wrong digests and sizes, malformed
/// manifests and configs, trees deeper than `PATH_MAX`. None may crash or hang the pull or
/// write outside the case's snapshots (a tripwire tree, `/etc`, the layout itself); a failed
/// pull leaves an empty store and no mount; the store then takes a good pull. `run.py` checks
/// all of it; its per-case lines say what a failure was. With each snapshotter: they write
/// different trees, and a few cases expect different outcomes (as containerd's do).
@Suite struct HostileLayoutTests {
    @Test(arguments: ["overlay", "native"])
    func noHostileLayoutEscapesOrLeavesAnythingBehind(snapshotter: String) async throws {
        let scratch = try Scratch("hostile-" + snapshotter)
        let script = Repository.root.appendingPathComponent("Tests/HostileLayouts/run.py").path
        let output = try await Shell.run(["python3", script, "--decant", Repository.decant, "--work", scratch.url.path,
                                          "--snapshotter", snapshotter])
        let lines = output.stdout.split(separator: "\n")
        let failures = lines.enumerated().filter { $0.element.hasPrefix("FAIL") }
            .map { lines[$0.offset...].prefix(3).joined(separator: "\n") }
        #expect(output.status == 0, "\(failures.joined(separator: "\n"))\n\(lines.last ?? "")\n\(output.stderr.suffix(2000))")
        let summary = try #require(lines.last.map(String.init))
        #expect(summary.hasSuffix("failed") && summary.hasPrefix("\(Self.cases) cases: \(Self.cases) passed"), "\(summary)")
    }

    /// As many as cases.py defines: a change that made run.py skip some must not pass unseen.
    static let cases = 146
}
