import DecantArchive
import DecantTestSupport
import Foundation
import Testing

/// Corrupt, truncated and hostile layers: a clear error naming the layer and the entry, and
/// nothing outside the target directory touched.
@Suite(.serialized) struct BadInputTests {
    @Test func everyBadLayerFailsWithItsCause() async throws {
        let fixtures = try await FixtureSet.get()
        #expect(fixtures.errorCases.count >= 10)
        for fixture in fixtures.errorCases {
            guard case .error(let expected) = fixture.expect else { continue }
            let scratch = try Scratch(fixture.name)
            let tripwires = try Tripwires(around: scratch)
            do {
                _ = try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType, into: tripwires.root,
                                   whiteouts: .overlay)
                Issue.record("\(fixture.name): applied without an error; expected \(expected.debugDescription)")
            } catch let error as LayerError {
                #expect(error.description.lowercased().contains(expected.lowercased()),
                        "\(fixture.name): \(error.description) does not say \(expected.debugDescription)")
                #expect(error.layer == URL(fileURLWithPath: fixture.blob).lastPathComponent, "\(fixture.name)")
            }
            try tripwires.expectUntouched(fixture.name)
        }
    }

    /// A header that cannot be read (a bad checksum, or the stream ends inside it) is placed
    /// after the last entry read, which it is not blamed on.
    @Test(arguments: [("err-tar-bad-checksum", "ebc/"), ("err-tar-truncated-header", "eth/f0")])
    func aBadHeaderIsPlacedAfterTheEntryBeforeIt(name: String, before: String) async throws {
        let fixtures = try await FixtureSet.get()
        let fixture = try #require(fixtures.errorCases.first { $0.name == name })
        let scratch = try Scratch(fixture.name)
        let error = try #require(throws: LayerError.self) {
            try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType, into: scratch.directory("tree"),
                           whiteouts: .overlay)
        }
        #expect(error.entry == nil, "\(error)")
        #expect(error.message.hasSuffix("(in the header after entry \(before))"), "\(error)")
    }

    /// A stream whose damage shows only at its end (the gzip trailer's CRC) is placed there, in
    /// the blob: not in a tar header, which the reader may not even have been given yet.
    @Test func aChecksumMismatchIsPlacedAtTheEndOfTheBlob() async throws {
        let fixtures = try await FixtureSet.get()
        let fixture = try #require(fixtures.errorCases.first { $0.name == "err-gzip-crc" })
        let scratch = try Scratch(fixture.name)
        let error = try #require(throws: LayerError.self) {
            try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType, into: scratch.directory("tree"),
                           whiteouts: .overlay)
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: fixtures.url(fixture.blob).path)[.size] as? Int)
        #expect(error.code == .corrupt && error.entry == nil, "\(error)")
        #expect(error.message.hasSuffix("checksum mismatch (found after reading \(size) bytes of the blob)"), "\(error)")
    }

    /// Directories nested far deeper than `PATH_MAX`: extraction reaches them (it holds the
    /// directories it works in open), but their times, set once every entry is in, are set
    /// through a path from the nearest directory still open, longer here than the kernel takes.
    /// The error names the directory, not "the entry" of no name.
    @Test func aDirectoryWhoseTimesCannotBeSetIsNamed() async throws {
        let scratch = try Scratch("deep-times")
        let blob = scratch.url.appendingPathComponent("deep.tar")
        try await Shell.check(["python3", "-c", """
            import sys, tarfile
            with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as tar:
                path = ""
                for level in range(2500):
                    path += ("/" if path else "") + "d"
                    entry = tarfile.TarInfo(path)
                    entry.type = tarfile.DIRTYPE
                    entry.mode = 0o755
                    entry.mtime = 1_000_000
                    tar.addfile(entry)
            """, blob.path])
        let error = try #require(throws: LayerError.self) {
            try applyLayer(blob, mediaType: nil, into: scratch.directory("tree"), whiteouts: .overlay)
        }
        let entry = try #require(error.entry, "\(error)")
        #expect(entry.utf8.count > Int(PATH_MAX) && entry.split(separator: "/").allSatisfy { $0 == "d" }, "\(entry.count)")
        #expect(error.code == .filesystem && error.message == "cannot set the directory's times", "\(error)")
        #expect(error.description.contains("File name too long"), "\(error)")
    }

    /// Layers Decant refuses and containerd 1.6 applies: a declared media type that lies about the
    /// compression (containerd sniffs the bytes), and bytes after the gzip stream (containerd's
    /// `unpigz` ignores them, while its own Go reader would refuse them too).
    static let stricterThanContainerd: Set<String> = ["err-zstd-declared-gzip", "err-gzip-trailing-garbage"]

    /// containerd rejects the same layers, but for the documented exceptions.
    @Test func containerdRejectsThemToo() async throws {
        let fixtures = try await FixtureSet.get()
        for fixture in fixtures.errorCases {
            let rejected = fixtures.containerdError(fixture.name) != nil
            if Self.stricterThanContainerd.contains(fixture.name) {
                #expect(!rejected, "containerd now rejects \(fixture.name): drop it from the exceptions")
            } else {
                #expect(rejected, "containerd accepted \(fixture.name)")
            }
        }
    }

    /// Every layer, good or bad, in both whiteout modes, stays inside its directory: `../`, `/`,
    /// symlinks to `/` and to `../..` and hardlinks to outside paths all land inside.
    @Test(arguments: [WhiteoutMode.overlay, .naive])
    func nothingLeavesTheTargetDirectory(whiteouts: WhiteoutMode) async throws {
        let fixtures = try await FixtureSet.get()
        for fixture in fixtures.cases {
            let scratch = try Scratch(fixture.name)
            let tripwires = try Tripwires(around: scratch)
            _ = try? applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType, into: tripwires.root,
                                whiteouts: whiteouts)
            try tripwires.expectUntouched(fixture.name)
        }
    }

    @Test func aMissingTargetDirectoryIsAnError() async throws {
        let fixtures = try await FixtureSet.get()
        let fixture = try #require(fixtures.okCases.first)
        #expect(throws: LayerError.self) {
            _ = try applyLayer(fixtures.url(fixture.blob), mediaType: fixture.mediaType,
                               into: URL(fileURLWithPath: "/var/tmp/decant-tests/does-not-exist"), whiteouts: .overlay)
        }
    }
}

/// A target directory with a file and a directory planted beside it, named as the hostile
/// fixtures aim at them, and a check that nothing appeared, changed or vanished outside.
struct Tripwires {
    let scratch: Scratch
    let root: URL
    private let file: URL
    private let directory: URL
    private static let content = "tripwire: must never change\n"

    init(around scratch: Scratch) throws {
        self.scratch = scratch
        root = try scratch.directory("root")
        file = scratch.url.appendingPathComponent("tripwire-file")
        directory = try scratch.directory("tripwire-dir")
        try Data(Self.content.utf8).write(to: file)
    }

    func expectUntouched(_ label: String) throws {
        let manager = FileManager.default
        let outside = try manager.contentsOfDirectory(atPath: scratch.url.path).sorted()
        #expect(outside == ["root", "tripwire-dir", "tripwire-file"], "\(label): \(outside)")
        #expect(try String(contentsOf: file, encoding: .utf8) == Self.content, "\(label): tripwire-file changed")
        let attributes = try manager.attributesOfItem(atPath: file.path)
        #expect(attributes[.type] as? FileAttributeType == .typeRegular, "\(label)")
        #expect(try manager.contentsOfDirectory(atPath: directory.path).isEmpty, "\(label): tripwire-dir got entries")
        for absolute in ["/tripwire-dir", "/tripwire-file", "/abs", "/escape1", "/escape2"] {
            #expect(!manager.fileExists(atPath: absolute), "\(label): \(absolute) was created")
        }
    }
}
