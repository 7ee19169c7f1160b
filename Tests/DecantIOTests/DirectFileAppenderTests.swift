import CDecantShim
@testable import DecantIO
import DecantTestSupport
import Foundation
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct DirectFileAppenderTests {
    private let chunk = DirectFileAppender.chunkSize

    private func bytes(_ count: Int, seed: Int = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &+ seed) &* 2_654_435_761 >> 13) }
    }

    private func open(_ path: String) throws -> OwnedDescriptor {
        OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(path, flags: O_WRONLY | O_CREAT, mode: 0o600))
    }

    private func append(_ appender: DirectFileAppender, _ data: ArraySlice<UInt8>) throws {
        try data.withUnsafeBytes { buffer in try appender.append(buffer) }
    }

    private func isDirect(_ file: OwnedDescriptor) -> Bool {
        fcntl(file.rawValue, F_GETFL) & decant_o_direct() != 0
    }

    @Test func appendsOfAnySizeLandInOrderAndTheFlagIsClearedAfter() throws {
        let scratch = try Scratch("direct")
        let path = scratch.url.appendingPathComponent("blob").path
        let file = try open(path)
        let appender = try #require(DirectFileAppender())
        #expect(appender.start(file, path: path, offset: 0))
        #expect(isDirect(file))
        let data = bytes(3 * chunk + 12_345)
        var at = 0
        for size in [1, 4095, chunk + 3, 10, chunk - 7, 777_777, data.count] {
            let end = min(at + size, data.count)
            try append(appender, data[at..<end])
            at = end
        }
        try appender.finish()
        #expect(!isDirect(file))
        #expect(appender.written == Int64(data.count))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
    }

    @Test func oneAppenderServesFileAfterFile() throws {
        let scratch = try Scratch("direct")
        let appender = try #require(DirectFileAppender())
        for (index, size) in [0, 1, 4096, 5000, chunk, chunk + 4096, 2 * chunk + 1].enumerated() {
            let path = scratch.url.appendingPathComponent("file-\(index)").path
            let data = bytes(size, seed: index)
            #expect(appender.start(try open(path), path: path, offset: 0))
            try append(appender, data[...])
            try appender.finish()
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data), "\(size) bytes")
        }
    }

    /// Bytes filled in place (``DirectFileAppender/reservation(upTo:)``) land in order among
    /// copied ones, and are still where they were put after they were handed over.
    @Test func reservedBytesLandInOrderAmongCopiedOnes() throws {
        let scratch = try Scratch("direct")
        let path = scratch.url.appendingPathComponent("blob").path
        let file = try open(path)
        let appender = try #require(DirectFileAppender())
        #expect(appender.reservation(upTo: 10) == nil, "no file to append to yet")
        #expect(appender.start(file, path: path, offset: 0))
        let data = bytes(4 * chunk + 999)
        var at = 0
        var turn = 0
        while at < data.count {
            let size = [1, 4095, chunk + 3, 10, chunk - 7, 777_777, 3 * chunk][turn % 7]
            turn += 1
            let end = min(at + size, data.count)
            if turn % 3 == 0 {
                try append(appender, data[at..<end])
                at = end
                continue
            }
            let room = try #require(appender.reservation(upTo: end - at))
            #expect(!room.isEmpty && room.count <= end - at)
            let filled = data[at..<(at + room.count)]
            room.copyBytes(from: filled)
            try appender.appendReserved(room.count)
            #expect(Array(UnsafeRawBufferPointer(room)) == Array(filled), "moved or changed once handed over")
            at += room.count
        }
        try appender.finish()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
    }

    @Test func theFileHoldsAPrefixOfWhatWasAppended() throws {
        let scratch = try Scratch("direct")
        let path = scratch.url.appendingPathComponent("blob").path
        let data = bytes(5 * chunk / 2)
        do {
            let appender = try #require(DirectFileAppender())
            #expect(appender.start(try open(path), path: path, offset: 0))
            try append(appender, data[...])
            #expect(appender.written == Int64(chunk), "the first chunk is written once the second fills")
        }
        // Dropped without finish(), as an interrupted ingest is: whole chunks only, in order.
        let left = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(left.count == 2 * chunk)
        #expect(left == Data(data[..<(2 * chunk)]))

        let resumed = try #require(DirectFileAppender())
        #expect(resumed.start(try open(path), path: path, offset: Int64(left.count)))
        try append(resumed, data[left.count...])
        try resumed.finish()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
    }

    @Test func anUnalignedOffsetIsLeftToBufferedWrites() throws {
        let scratch = try Scratch("direct")
        let path = scratch.url.appendingPathComponent("blob").path
        let file = try open(path)
        let appender = try #require(DirectFileAppender())
        #expect(!appender.start(file, path: path, offset: 100))
        #expect(!isDirect(file))
        #expect(appender.start(file, path: path, offset: 8192))
    }

    /// `data` in memory aligned to 4096, starting `shift` bytes in.
    private func withAligned(_ data: [UInt8], shift: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count + shift, alignment: 4096)
        defer { memory.deallocate() }
        let region = UnsafeMutableRawBufferPointer(rebasing: memory[shift...])
        region.copyBytes(from: data)
        try body(UnsafeRawBufferPointer(region))
    }

    @Test func borrowedAlignedBytesAreWrittenFromWhereTheyAre() throws {
        let scratch = try Scratch("direct")
        let appender = try #require(DirectFileAppender())
        let data = bytes(4 * chunk + 700)

        // Like a file's data in the applier's buffers: its first piece starts at a tar block
        // boundary inside a page-aligned buffer, every piece but the last is whole blocks.
        try withAligned(data, shift: 0) { memory in
            let path = scratch.url.appendingPathComponent("tar-like").path
            #expect(appender.start(try open(path), path: path, offset: 0))
            var at = 0
            for size in [chunk - 512, chunk, 1536, chunk - 1536, data.count] {
                let end = min(at + size, data.count)
                try appender.append(borrowing: UnsafeRawBufferPointer(rebasing: memory[at..<end]))
                try appender.settle()
                at = end
            }
            try appender.finish()
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
        }
        // Only the 700 - 512 bytes after the last whole block were copied.
        #expect(appender.copiedBytes == 188)

        // Memory that is not aligned, or bytes after a staged rest, go through the staging buffer.
        let copied = appender.copiedBytes
        try withAligned(data, shift: 1) { memory in
            let path = scratch.url.appendingPathComponent("unaligned").path
            #expect(appender.start(try open(path), path: path, offset: 0))
            try appender.append(borrowing: memory)
            try appender.finish()
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
        }
        #expect(appender.copiedBytes == copied + Int64(data.count))
        try withAligned(data, shift: 0) { memory in
            let path = scratch.url.appendingPathComponent("after-a-rest").path
            #expect(appender.start(try open(path), path: path, offset: 0))
            try appender.append(borrowing: UnsafeRawBufferPointer(rebasing: memory[..<100]))
            try appender.append(borrowing: UnsafeRawBufferPointer(rebasing: memory[100...]))
            try appender.finish()
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
        }
        #expect(appender.copiedBytes == copied + 2 * Int64(data.count))
    }

    @Test func writtenDataStaysOutOfThePageCache() throws {
        let scratch = try Scratch("direct")
        let data = bytes(8 * chunk + 100)
        let direct = scratch.url.appendingPathComponent("direct").path
        let appender = try #require(DirectFileAppender())
        #expect(appender.start(try open(direct), path: direct, offset: 0))
        try append(appender, data[...])
        try appender.finish()
        // Only the last, partial block went through the page cache.
        #expect(try PageCache.residentPages(direct) <= 1)

        // The control: the same bytes written the ordinary way are all cached.
        let plain = scratch.url.appendingPathComponent("plain").path
        try Data(data).write(to: URL(fileURLWithPath: plain))
        #expect(try PageCache.residentPages(plain) == PageCache.pages(data.count))
    }
}
