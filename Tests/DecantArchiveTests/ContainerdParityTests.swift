import DecantArchive
import DecantTestSupport
import Foundation
import Testing

/// Decant's trees against containerd 1.6's, entry by entry, for every generated layer.
@Suite(.serialized) struct ContainerdParityTests {
    /// The overlay snapshotter: the base layer applied naively (it is the bottom), then each case
    /// into its own upper dir with overlay whiteouts — exactly the two `fs` dirs containerd writes.
    /// Applied as `decant pull` applies them by default: large files written directly.
    @Test func overlayUpperDirsMatchContainerd() async throws {
        let fixtures = try await FixtureSet.get()
        #expect(fixtures.okCases.count >= 10)
        for fixture in fixtures.okCases {
            let (base, upper, implicit) = try await offPool {
                let scratch = try Scratch(fixture.name)
                var base: String?
                if let layer = fixture.base {
                    let baseDirectory = try scratch.directory("base")
                    _ = try applyLayer(fixtures.url(layer), mediaType: fixture.baseMediaType, into: baseDirectory, whiteouts: .naive)
                    base = try Self.differences(baseDirectory, fixtures.reference(fixture.name, "overlay-base"), scratch: scratch)
                }
                let upper = try scratch.directory("upper")
                let result = try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType, into: upper,
                                            whiteouts: fixture.base == nil ? .naive : .overlay, writeback: EarlyWriteback())
                let differences = try Self.differences(upper, fixtures.reference(fixture.name, "overlay"), scratch: scratch,
                                                       implicit: result.implicitDirectories)
                return (base, differences, result.implicitDirectories)
            }
            #expect(base == nil, "\(fixture.name) (base): \(base ?? "")")
            #expect(upper == nil, "\(fixture.name): \(upper ?? "")")
            if fixture.base != nil {
                #expect(Set(implicit) == Set(fixture.ignoreMtime ?? []), "\(fixture.name): implicit directories \(implicit)")
            }
        }
    }

    /// The native snapshotter: every layer applied naively onto a copy of its parent.
    @Test func nativeTreesMatchContainerd() async throws {
        let fixtures = try await FixtureSet.get()
        for fixture in fixtures.okCases {
            let differences = try await offPool {
                let scratch = try Scratch(fixture.name)
                let tree = try scratch.directory("native")
                if let base = fixture.base {
                    _ = try applyLayer(fixtures.url(base), mediaType: fixture.baseMediaType, into: tree, whiteouts: .naive)
                }
                let result = try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType, into: tree, whiteouts: .naive)
                return try Self.differences(tree, fixtures.reference(fixture.name, "native"), scratch: scratch,
                                            implicit: result.implicitDirectories + fixtures.unstableMTimes(fixture.name, "native"))
            }
            #expect(differences == nil, "\(fixture.name) (native): \(differences ?? "")")
        }
    }

    /// zlib instead of ISA-L, io_uring instead of plain calls, and buffers so small that headers
    /// and file data straddle them: the same trees and digests every time.
    @Test(arguments: [
        (GzipImplementation.zlib, FileIOBackend.syscalls, 1 << 20, 4),
        (GzipImplementation.isal, FileIOBackend.uring, 1 << 20, 4),
        (GzipImplementation.isal, FileIOBackend.uring, 1536, 2),
        (GzipImplementation.zlib, FileIOBackend.syscalls, 700, 1),
    ])
    func everyBackendWritesTheSameTree(gzip: GzipImplementation, io: FileIOBackend, bufferSize: Int, bufferCount: Int) async throws {
        let fixtures = try await FixtureSet.get()
        for fixture in fixtures.okCases {
            let (expected, result, differences) = try await offPool {
                let scratch = try Scratch(fixture.name)
                let reference = try scratch.directory("reference")
                let whiteouts: WhiteoutMode = fixture.base == nil ? .naive : .overlay
                let expected = try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType, into: reference,
                                              whiteouts: whiteouts)
                let upper = try scratch.directory("upper")
                let result = try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType, into: upper,
                                            whiteouts: whiteouts, gzip: gzip, io: io,
                                            bufferSize: bufferSize, bufferCount: bufferCount)
                let referenceDump = scratch.url.appendingPathComponent("reference.json")
                try Trees.dump(reference, to: referenceDump)
                return (expected, result, try Self.differences(upper, referenceDump, scratch: scratch, implicit: result.implicitDirectories))
            }
            #expect(result.digests == expected.digests, "\(fixture.name)")
            #expect(result.entries == expected.entries, "\(fixture.name)")
            #expect(differences == nil, "\(fixture.name): \(differences ?? "")")
        }
    }

    /// Every file written directly, whatever its size, from buffers so small that each file's
    /// data arrives in pieces: the same trees (data, then metadata) as written through the cache.
    @Test func directWritesWriteTheSameTree() async throws {
        let fixtures = try await FixtureSet.get()
        let everyFile = EarlyWriteback(directMinimumFileSize: 0)
        for fixture in fixtures.okCases {
            let differences = try await offPool {
                let scratch = try Scratch(fixture.name)
                let whiteouts: WhiteoutMode = fixture.base == nil ? .naive : .overlay
                let reference = try scratch.directory("reference")
                _ = try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType, into: reference, whiteouts: whiteouts)
                let upper = try scratch.directory("upper")
                let result = try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType, into: upper,
                                            whiteouts: whiteouts, bufferSize: 1536, bufferCount: 2, writeback: everyFile)
                let referenceDump = scratch.url.appendingPathComponent("reference.json")
                try Trees.dump(reference, to: referenceDump)
                return try Self.differences(upper, referenceDump, scratch: scratch, implicit: result.implicitDirectories)
            }
            #expect(differences == nil, "\(fixture.name) (direct): \(differences ?? "")")
        }
    }

    /// How `directory` differs from the dump `reference`; `nil` when it does not.
    private static func differences(_ directory: URL, _ reference: URL, scratch: Scratch, implicit: [String] = []) throws -> String? {
        let dump = scratch.url.appendingPathComponent("ours-\(UUID().uuidString.prefix(6)).json")
        try Trees.dump(directory, to: dump)
        return try Trees.differences(dump, reference, ignoringMTimeOf: implicit)
    }
}
