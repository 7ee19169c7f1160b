import Crypto
import DecantArchive
import DecantOCI
import DecantTestSupport
import Foundation
import Testing

/// The digests the applier returns are the blob's and the whole uncompressed stream's, checked
/// against independent tools (`sha256sum` over the blob and over `gzip -dc` / `zstd -dc`).
@Suite struct DigestTests {
    @Test func digestsMatchIndependentTools() async throws {
        let fixtures = try await FixtureSet.get()
        for fixture in fixtures.okCases {
            let scratch = try Scratch(fixture.name)
            let result = try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType,
                                        into: try scratch.directory("upper"),
                                        whiteouts: fixture.base == nil ? .naive : .overlay)
            let blob = fixtures.url(fixture.blob).path
            let decompress = switch result.digests.compression {
            case .gzip: "gzip -dc"
            case .zstd: "zstd -dcq"
            case .none: "cat"
            }
            let blobHash = try await Shell.check(["bash", "-c", "sha256sum < '\(blob)'"]).stdout.prefix(64)
            let tarHash = try await Shell.check(["bash", "-c", "\(decompress) < '\(blob)' | sha256sum"]).stdout.prefix(64)
            let tarSize = try await Shell.check(["bash", "-c", "\(decompress) < '\(blob)' | wc -c"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(result.digests.compressedDigest.encoded == blobHash, "\(fixture.name)")
            #expect(result.digests.diffID.encoded == tarHash, "\(fixture.name)")
            #expect(String(result.digests.uncompressedSize) == tarSize, "\(fixture.name)")
            let blobSize = try FileManager.default.attributesOfItem(atPath: blob)[.size] as? Int
            #expect(result.digests.compressedSize == Int64(blobSize ?? -1), "\(fixture.name)")
        }
    }
}
