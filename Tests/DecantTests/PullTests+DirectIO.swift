import Decant
import DecantTestSupport
import Foundation
import Testing

extension PullTests {
    /// With the default `--sync fs`, a large file goes to disk past the page cache; with
    /// `--no-direct-io` or `--sync none` it is written (and stays) cached. The file is the same.
    @Test func largeFilesAreWrittenDirectlyOnlyWhenTheyAreFlushedAnyway() async throws {
        let (scratch, _) = try freshStore("direct-io")
        let layout = scratch.url.appendingPathComponent("big").path
        try await Shell.check(["python3", RegistryServer.scripts.appendingPathComponent("make-big-image.py").path, layout, "6"])
        let cases: [(String, PullOptions, Bool)] = [
            ("default", PullOptions(), true),
            ("no-direct-io", PullOptions(directWrites: false), false),
            ("sync-none", PullOptions(sync: .none), false),
        ]
        var contents: [Data] = []
        for (label, options, direct) in cases {
            let (caseScratch, store) = try freshStore("direct-io-\(label)")
            defer { withExtendedLifetime(caseScratch) {} }
            let result = try await Puller(store: store).pull("oci:\(layout):latest", options: options)
            let file = try #require(result.layers.first).directory + "/data/big.bin"
            let cached = try PageCache.residentPages(file)
            if direct {
                #expect(cached <= 1, "\(label): \(cached) pages of 6 MiB cached")
            } else {
                #expect(cached == PageCache.pages(6 << 20), "\(label): \(cached) pages of 6 MiB cached")
            }
            contents.append(try Data(contentsOf: URL(fileURLWithPath: file)))
        }
        #expect(contents.allSatisfy { $0 == contents[0] && $0.count == 6 << 20 })
    }
}
