@_spi(Benchmarks) @testable import DecantArchive
import DecantTestSupport
import Foundation
import Testing

/// The decoders on streams made by the standard tools: multi-member gzip and multi-frame zstd are
/// read whole, and what follows a complete stream is refused.
@Suite struct DecompressorTests {
    private static func compress(_ payload: [UInt8], with command: String) throws -> [UInt8] {
        let scratch = try Scratch("codec")
        let input = scratch.url.appendingPathComponent("in")
        try Data(payload).write(to: input)
        let output = scratch.url.appendingPathComponent("out")
        try Shell.check(["bash", "-c", "\(command) < '\(input.path)' > '\(output.path)'"])
        return Array(try Data(contentsOf: output))
    }

    /// Feeds `input` in pieces of `step` bytes into a small output buffer, like the decoding thread.
    private static func decode(_ decoder: any Decompressor, _ input: [UInt8], step: Int = 7, outputSize: Int = 100) throws -> [UInt8] {
        var result: [UInt8] = []
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: outputSize, alignment: 1)
        defer { output.deallocate() }
        try input.withUnsafeBytes { all in
            var offset = 0
            repeat {
                let end = min(offset + step, all.count)
                var pending = UnsafeRawBufferPointer(rebasing: all[offset..<end])
                offset = end
                while true {
                    let before = pending.count
                    let produced = try decoder.decompress(&pending, into: output)
                    result += output[..<produced]
                    if produced == 0 && pending.count == before { break }
                }
            } while offset < all.count
        }
        try decoder.finish()
        return result
    }

    private static let payload: [UInt8] = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 13) }

    @Test(arguments: [GzipImplementation.isal, .zlib])
    func gzipMembersAreReadWhole(_ implementation: GzipImplementation) throws {
        let first = try Self.compress(Array(Self.payload[..<20_000]), with: "gzip -c")
        let second = try Self.compress(Array(Self.payload[20_000...]), with: "gzip -c")
        let decoder: any Decompressor = implementation == .isal ? ISALInflater() : ZlibInflater()
        #expect(try Self.decode(decoder, first + second) == Self.payload)
    }

    @Test(arguments: [GzipImplementation.isal, .zlib])
    func bytesAfterGzipAreRefused(_ implementation: GzipImplementation) throws {
        let stream = try Self.compress(Self.payload, with: "gzip -c") + Array("garbage".utf8)
        let decoder: any Decompressor = implementation == .isal ? ISALInflater() : ZlibInflater()
        #expect {
            _ = try Self.decode(decoder, stream)
        } throws: { error in
            (error as? DecodeError)?.kind == .trailingData
        }
    }

    @Test(arguments: [GzipImplementation.isal, .zlib])
    func truncatedGzipIsRefused(_ implementation: GzipImplementation) throws {
        let stream = try Self.compress(Self.payload, with: "gzip -c")
        let decoder: any Decompressor = implementation == .isal ? ISALInflater() : ZlibInflater()
        #expect {
            _ = try Self.decode(decoder, Array(stream.dropLast(5)))
        } throws: { error in
            (error as? DecodeError)?.kind == .truncated
        }
    }

    @Test func zstdFramesAreReadWhole() throws {
        let first = try Self.compress(Array(Self.payload[..<30_000]), with: "zstd -qc")
        let second = try Self.compress(Array(Self.payload[30_000...]), with: "zstd -qc")
        #expect(try Self.decode(ZstdDecompressor(), first + second) == Self.payload)
    }

    @Test func truncatedAndTrailingZstdAreRefused() throws {
        let stream = try Self.compress(Self.payload, with: "zstd -qc")
        #expect {
            _ = try Self.decode(ZstdDecompressor(), Array(stream.dropLast(3)))
        } throws: { error in
            (error as? DecodeError)?.kind == .truncated
        }
        #expect {
            _ = try Self.decode(ZstdDecompressor(), stream + Array("garbage!".utf8))
        } throws: { error in
            (error as? DecodeError)?.kind == .trailingData
        }
    }
}
