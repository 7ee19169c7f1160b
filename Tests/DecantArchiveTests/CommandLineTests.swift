import DecantTestSupport
import Foundation
import Testing

/// `decant apply-layer` as build farms call it: exit status, human output and `--json`.
@Suite struct CommandLineTests {
    private var decant: String { Repository.decant }

    @Test func appliesAndPrintsJSON() async throws {
        let fixtures = try await FixtureSet.get()
        let fixture = try #require(fixtures.okCases.first { $0.name == "files" })
        let scratch = try Scratch("cli")
        let target = try scratch.directory("upper")
        let output = try await Shell.run([decant, "apply-layer", "--json", "--media-type", fixture.mediaType,
                                          fixtures.url(fixture.blob).path, target.path])
        #expect(output.status == 0, "\(output.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]
        #expect(report?["ok"] as? Bool == true)
        let result = report?["result"] as? [String: Any]
        let digests = result?["digests"] as? [String: Any]
        let diffID = try #require(digests?["diffID"] as? String)
        let expected = try await Shell.check(["bash", "-c", "gzip -dc < '\(fixtures.url(fixture.blob).path)' | sha256sum"]).stdout
        #expect(diffID == "sha256:" + expected.prefix(64))
    }

    @Test func failsWithTheLayerAndEntryNamed() async throws {
        let fixtures = try await FixtureSet.get()
        let fixture = try #require(fixtures.errorCases.first { $0.name == "err-unknown-typeflag" })
        let scratch = try Scratch("cli")
        let target = try scratch.directory("upper")
        let human = try await Shell.run([decant, "apply-layer", fixtures.url(fixture.blob).path, target.path])
        #expect(human.status == 1)
        #expect(human.stderr.contains("unsupported entry type 'Z'"), "\(human.stderr)")
        #expect(human.stderr.contains("discard"), "\(human.stderr)")

        let machine = try await Shell.run([decant, "apply-layer", "--json", fixtures.url(fixture.blob).path, target.path])
        #expect(machine.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(machine.stdout.utf8)) as? [String: Any]
        #expect(report?["ok"] as? Bool == false)
        #expect(report?["code"] as? String == "unsupported-entry")
        #expect((report?["entry"] as? String)?.isEmpty == false)
        #expect(report?["discard"] as? String == target.path)
    }

    /// An entry name from a layer cannot fake a line of output or reach the terminal: the error
    /// quotes it with its control characters escaped, on one line.
    @Test func anEntryNameIsPrintedEscaped() async throws {
        let scratch = try Scratch("cli")
        let layer = scratch.url.appendingPathComponent("hostile.tar").path
        _ = try await Shell.check(["python3", "-c", """
            import io, sys, tarfile
            with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as tar:
                entry = tarfile.TarInfo("x\\nFAKE: pull succeeded\\x1b[2K")
                entry.type = b"Z"
                tar.addfile(entry, io.BytesIO(b""))
            """, layer])
        let output = try await Shell.run([decant, "apply-layer", layer, try scratch.directory("upper").path])
        #expect(output.status == 1)
        let lines = output.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines[2].isEmpty, "two lines, each ended: \(lines)")
        #expect(lines.first?.contains(#"entry x\nFAKE: pull succeeded\u{1B}[2K: unsupported entry type 'Z'"#) == true, "\(lines)")
        #expect(!output.stderr.unicodeScalars.contains("\u{1B}"))
    }

    @Test func aMissingBlobIsASourceError() throws {
        let scratch = try Scratch("cli")
        let output = try Shell.run([decant, "apply-layer", "--json", scratch.url.appendingPathComponent("nope.tar").path,
                                    try scratch.directory("upper").path])
        #expect(output.status == 1)
        #expect(output.stdout.contains("\"code\":\"source\""), "\(output.stdout)")
    }
}
