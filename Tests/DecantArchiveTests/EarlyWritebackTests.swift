@_spi(Benchmarks) @testable import DecantArchive
import DecantIO
import DecantTestSupport
import Foundation
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Early writeback: with it, a large file's data is already on its way to disk when the layer
/// is done (no dirty pages left); small files are left to the flush before the commit.
@Suite struct EarlyWritebackTests {
    private static func dirtyPages(_ url: URL) throws -> UInt64 {
        let descriptor = OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(url.path, flags: O_RDONLY))
        return try descriptor.descriptor.pageCacheState(path: url.path).dirtyPages
    }

    /// `cachestat(2)` came with Linux 6.5: without it the page cache cannot be inspected.
    static func kernelHasCachestat() -> Bool {
        guard let file = try? FileDescriptor(rawValue: AT_FDCWD).openEntry("/proc/self/exe", flags: O_RDONLY) else { return false }
        let descriptor = OwnedDescriptor(taking: file)
        do throws(SystemCallError) {
            _ = try descriptor.descriptor.pageCacheState(path: "/proc/self/exe")
            return true
        } catch {
            return error.errno != .noFunction
        }
    }

    @Test(.enabled(if: kernelHasCachestat(), "cachestat(2) needs Linux 6.5 or later"))
    func largeFilesLeaveNoDirtyPages() throws {
        let scratch = try Scratch("writeback")
        let source = try scratch.directory("src")
        try Data((0..<(6 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
            .write(to: source.appendingPathComponent("big"))
        try Data(repeating: 7, count: 64 << 10).write(to: source.appendingPathComponent("small"))
        let blob = scratch.url.appendingPathComponent("layer.tar")
        try Shell.check(["tar", "-cf", blob.path, "-C", source.path, "big", "small"])

        // A flush by another test (syncfs) cleans every page; the comparison file shows when one
        // came in between, and the attempt is repeated.
        for _ in 0..<5 {
            let target = try scratch.directory("fs-\(UUID().uuidString.prefix(6))")
            let policy = EarlyWriteback(stride: 1 << 20, minimumFileSize: 1 << 20)
            _ = try LayerApplier.apply(from: try FileByteSource(path: FilePath(blob.path)), into: FilePath(target.path),
                                       options: ApplyOptions(layerName: "writeback", whiteouts: .naive, writeback: policy))
            let control = target.appendingPathComponent("control")
            let written = OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(
                control.path, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600))
            try [UInt8](repeating: 1, count: 6 << 20).withUnsafeBytes { try written.descriptor.writeAll($0, path: control.path) }
            let big = try Self.dirtyPages(target.appendingPathComponent("big"))
            let small = try Self.dirtyPages(target.appendingPathComponent("small"))
            let unflushed = try Self.dirtyPages(control)
            guard unflushed > 0 && small > 0 else { continue }
            #expect(big == 0, "6 MiB written with early writeback still has \(big) dirty pages")
            #expect(small == 16, "a 64 KiB file below the threshold is left dirty")
            return
        }
        Issue.record("every attempt was flushed by someone else: nothing could be concluded")
    }

    /// The default policy (what `decant pull` uses with `--sync fs`) writes a large file past the
    /// page cache and a small one through it; without direct writes both are cached.
    @Test func largeFilesAreWrittenPastThePageCache() throws {
        let scratch = try Scratch("writeback")
        let source = try scratch.directory("src")
        let big = (0..<(6 << 20 + 999)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try Data(big).write(to: source.appendingPathComponent("big"))
        try Data(repeating: 7, count: 64 << 10).write(to: source.appendingPathComponent("small"))
        let blob = scratch.url.appendingPathComponent("layer.tar")
        try Shell.check(["tar", "-cf", blob.path, "-C", source.path, "big", "small"])

        for direct in [true, false] {
            let target = try scratch.directory("fs-\(direct)")
            let policy = EarlyWriteback(directMinimumFileSize: direct ? 4 << 20 : nil)
            _ = try LayerApplier.apply(from: try FileByteSource(path: FilePath(blob.path)), into: FilePath(target.path),
                                       options: ApplyOptions(layerName: "direct", whiteouts: .naive, writeback: policy))
            let bigPath = target.appendingPathComponent("big").path
            let cachedBig = try PageCache.residentPages(bigPath)
            let cachedSmall = try PageCache.residentPages(target.appendingPathComponent("small").path)
            #expect(cachedSmall == 16, "a 64 KiB file is written through the page cache")
            if direct {
                #expect(cachedBig <= 1, "only the last partial block of 6 MiB written directly is cached, not \(cachedBig) pages")
            } else {
                #expect(cachedBig == PageCache.pages(big.count))
            }
            #expect(FileManager.default.contents(atPath: bigPath) == Data(big))
        }
    }

    /// A layer that ends inside a file being written directly fails with the entry's name, and
    /// what reached the file is the start of its data: the write in flight from the decoder's
    /// buffer completes before that buffer can go.
    @Test func aLayerCutOffInsideADirectlyWrittenFileFailsCleanly() throws {
        let scratch = try Scratch("writeback")
        let source = try scratch.directory("src")
        let big = (0..<(9 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try Data(big).write(to: source.appendingPathComponent("big"))
        let whole = scratch.url.appendingPathComponent("layer.tar")
        try Shell.check(["tar", "-cf", whole.path, "-C", source.path, "big"])
        let cut = scratch.url.appendingPathComponent("cut.tar")
        try Data(try Data(contentsOf: whole).prefix(5 << 20 + 4096 + 512)).write(to: cut)

        let target = try scratch.directory("fs")
        let error = try #require(throws: LayerError.self) {
            try LayerApplier.apply(from: try FileByteSource(path: FilePath(cut.path)), into: FilePath(target.path),
                                   options: ApplyOptions(layerName: "cut", whiteouts: .naive, writeback: EarlyWriteback()))
        }
        #expect(error.code == .truncated, "\(error)")
        #expect(error.entry == "big", "\(error)")
        let left = try #require(FileManager.default.contents(atPath: target.appendingPathComponent("big").path))
        #expect(!left.isEmpty && left.count <= 5 << 20 + 4096, "\(left.count) bytes")
        #expect(left == Data(big.prefix(left.count)), "the file holds bytes that are not the start of its data")
    }
}
