import DecantIO
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

    /// A file opened for the appender's buffered rest, as `IngestWriter` opens its data file.
    private func open(_ path: String) throws -> OwnedDescriptor {
        OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(path, flags: O_RDWR | O_CREAT, mode: 0o600))
    }

    private func append(_ appender: DirectFileAppender, _ data: ArraySlice<UInt8>) throws {
        try data.withUnsafeBytes { buffer in try appender.append(buffer) }
    }

    /// How many of the file's pages are in the page cache: mincore(2) over a mapping of it, which
    /// does not read it in.
    private func residentPages(_ path: String) throws -> Int {
        let file = try open(path)
        let size = Int(lseek(file.rawValue, 0, SEEK_END))
        guard size > 0, let mapping = mmap(nil, size, PROT_READ, MAP_SHARED, file.rawValue, 0), mapping != MAP_FAILED else { return 0 }
        defer { munmap(mapping, size) }
        var vector = [UInt8](repeating: 0, count: (size + 4095) / 4096)
        #expect(mincore(mapping, size, &vector) == 0)
        return vector.filter { $0 & 1 != 0 }.count
    }

    @Test func appendsOfAnySizeLandInOrder() throws {
        let scratch = try Scratch("direct")
        let path = scratch.url.appendingPathComponent("blob").path
        let file = try open(path)
        let appender = try #require(DirectFileAppender(path: path, buffered: file.descriptor, offset: 0))
        let data = bytes(3 * chunk + 12_345)
        var at = 0
        for size in [1, 4095, chunk + 3, 10, chunk - 7, 777_777, data.count] {
            let end = min(at + size, data.count)
            try append(appender, data[at..<end])
            at = end
        }
        try appender.finish()
        #expect(appender.written == Int64(data.count))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
    }

    @Test func theFileHoldsAPrefixOfWhatWasAppended() throws {
        let scratch = try Scratch("direct")
        let path = scratch.url.appendingPathComponent("blob").path
        let file = try open(path)
        let data = bytes(5 * chunk / 2)
        do {
            let appender = try #require(DirectFileAppender(path: path, buffered: file.descriptor, offset: 0))
            try append(appender, data[...])
            #expect(appender.written == Int64(chunk), "the first chunk is written once the second fills")
        }
        // Dropped without finish(), as an interrupted ingest is: whole chunks only, in order.
        let left = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(left.count == 2 * chunk)
        #expect(left == Data(data[..<(2 * chunk)]))

        let resumed = try #require(DirectFileAppender(path: path, buffered: file.descriptor, offset: Int64(left.count)))
        try append(resumed, data[left.count...])
        try resumed.finish()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(data))
    }

    @Test func anUnalignedOffsetIsLeftToBufferedWrites() throws {
        let scratch = try Scratch("direct")
        let path = scratch.url.appendingPathComponent("blob").path
        let file = try open(path)
        #expect(DirectFileAppender(path: path, buffered: file.descriptor, offset: 100) == nil)
        #expect(DirectFileAppender(path: path, buffered: file.descriptor, offset: 8192) != nil)
    }

    @Test func writtenDataStaysOutOfThePageCache() throws {
        let scratch = try Scratch("direct")
        let data = bytes(8 * chunk + 100)
        let direct = scratch.url.appendingPathComponent("direct").path
        let file = try open(direct)
        let appender = try #require(DirectFileAppender(path: direct, buffered: file.descriptor, offset: 0))
        try append(appender, data[...])
        try appender.finish()
        // Only the last, partial chunk went through the page cache.
        #expect(try residentPages(direct) <= chunk / 4096)

        // The control: the same bytes written the ordinary way are all cached.
        let plain = scratch.url.appendingPathComponent("plain").path
        try Data(data).write(to: URL(fileURLWithPath: plain))
        #expect(try residentPages(plain) == (data.count + 4095) / 4096)
    }
}
