/// A streaming decoder from compressed to uncompressed bytes, fed by one thread.
///
/// Implementations own their C state and free it in `deinit`. They are not thread-safe; the
/// decoding thread of one layer owns one.
/// `@_spi(Benchmarks)`: visible to Benchmarks/ (the per-stage benchmarks) only; internal otherwise.
@_spi(Benchmarks) public protocol Decompressor: AnyObject {
    /// Decodes from `input` into `output`, advancing `input` past what was consumed, and returns the
    /// number of bytes written to `output`. Returns early when `output` is full or `input` is empty.
    func decompress(_ input: inout UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DecodeError) -> Int

    /// Called once all input was given: throws when the stream stopped before its end.
    func finish() throws(DecodeError)
}

/// Why a compressed stream could not be decoded.
/// `@_spi(Benchmarks)`: visible to Benchmarks/ (the per-stage benchmarks) only; internal otherwise.
@_spi(Benchmarks) public struct DecodeError: Error {
    enum Kind {
        case truncated
        case corrupt
        case trailingData
    }
    var kind: Kind
    var message: String
}

/// Uncompressed layers: bytes are copied through unchanged.
final class PassThrough: Decompressor {
    func decompress(_ input: inout UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(input.count, output.count)
        if count > 0 {
            output.baseAddress!.copyMemory(from: input.baseAddress!, byteCount: count)
        }
        input = UnsafeRawBufferPointer(rebasing: input[count...])
        return count
    }

    func finish() {}
}
