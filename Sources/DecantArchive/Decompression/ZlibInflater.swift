import CDecantShim
import CZlib

/// gzip through zlib: the fallback to ISA-L, and the baseline benchmarks compare it with.
/// Multi-member streams and trailing data are handled as ``ISALInflater`` handles them.
/// `@_spi(Benchmarks)`: visible to Benchmarks/ (the per-stage benchmarks) only; internal otherwise.
@_spi(Benchmarks) public final class ZlibInflater: Decompressor {
    private let stream: UnsafeMutablePointer<z_stream>
    private var memberEnded = false
    private var betweenMembers = false
    /// See ``ISALInflater``: whether the bytes after the last member start like a gzip member.
    private var nextLooksLikeGzip = true

    @_spi(Benchmarks) public init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Only fails on out-of-memory, which Swift treats as fatal everywhere else too.
        precondition(decant_inflate_init_gzip(stream) == Z_OK, "inflateInit2 failed")
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    @_spi(Benchmarks) public func decompress(_ input: inout UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DecodeError) -> Int {
        var produced = 0
        while produced < output.count {
            if memberEnded {
                guard !input.isEmpty else { break }
                inflateReset(stream)
                memberEnded = false
                betweenMembers = true
                nextLooksLikeGzip = input.first == 0x1F
            }
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(input.count)
            stream.pointee.next_out = (output.baseAddress! + produced).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(output.count - produced)
            let before = output.count - produced
            let status = inflate(stream, Z_NO_FLUSH)
            let consumed = input.count - Int(stream.pointee.avail_in)
            input = UnsafeRawBufferPointer(rebasing: input[consumed...])
            let wrote = before - Int(stream.pointee.avail_out)
            produced += wrote
            switch status {
            case Z_STREAM_END:
                memberEnded = true
                betweenMembers = false
            case Z_OK:
                if wrote > 0 { betweenMembers = false }
            case Z_BUF_ERROR:
                return produced
            case Z_DATA_ERROR where betweenMembers:
                throw DecodeError(kind: .trailingData, message: "trailing data after gzip stream")
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                if message.contains("check") {
                    throw DecodeError(kind: .corrupt, message: "corrupt gzip stream: checksum mismatch (\(message))")
                }
                throw DecodeError(kind: .corrupt, message: "corrupt gzip stream: \(message)")
            }
            if consumed == 0 && wrote == 0 && !memberEnded { break }
        }
        return produced
    }

    @_spi(Benchmarks) public func finish() throws(DecodeError) {
        if betweenMembers && !nextLooksLikeGzip {
            throw DecodeError(kind: .trailingData, message: "trailing data after gzip stream")
        }
        if !memberEnded {
            throw DecodeError(kind: .truncated, message: "truncated gzip stream: it ends before its last member is complete")
        }
    }
}
