import CZstd

/// zstd through `ZSTD_decompressStream`, which reads every frame of a multi-frame stream (and skips
/// skippable frames) on its own.
/// `@_spi(Benchmarks)`: visible to Benchmarks/ (the per-stage benchmarks) only; internal otherwise.
@_spi(Benchmarks) public final class ZstdDecompressor: Decompressor {
    private let stream: OpaquePointer
    /// `ZSTD_decompressStream` returns 0 exactly when a frame is complete and flushed.
    private var frameComplete = true

    @_spi(Benchmarks) public init() {
        // Only fails on out-of-memory.
        stream = ZSTD_createDStream()!
        ZSTD_initDStream(stream)
    }

    deinit {
        ZSTD_freeDStream(stream)
    }

    @_spi(Benchmarks) public func decompress(_ input: inout UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DecodeError) -> Int {
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var outBuffer = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        defer { input = UnsafeRawBufferPointer(rebasing: input[inBuffer.pos...]) }
        while outBuffer.pos < outBuffer.size {
            let before = (inBuffer.pos, outBuffer.pos)
            let result = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
            if ZSTD_isError(result) != 0 {
                let name = String(cString: ZSTD_getErrorName(result))
                if frameComplete && ZSTD_getErrorCode(result) == ZSTD_error_prefix_unknown {
                    throw DecodeError(kind: .trailingData, message: "trailing data after zstd stream")
                }
                throw DecodeError(kind: .corrupt, message: "corrupt zstd stream: \(name)")
            }
            // A call that moved nothing only restates what the next frame needs.
            if inBuffer.pos == before.0 && outBuffer.pos == before.1 { break }
            frameComplete = result == 0
        }
        return outBuffer.pos
    }

    @_spi(Benchmarks) public func finish() throws(DecodeError) {
        if !frameComplete {
            throw DecodeError(kind: .truncated, message: "truncated zstd stream: it ends inside a frame")
        }
    }
}
