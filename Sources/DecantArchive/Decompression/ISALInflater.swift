import CISAL

/// gzip through ISA-L's `isal_inflate`, which checks each member's CRC and length.
///
/// Multi-member streams are read whole, as Go's `gzip.Reader` (and so containerd) reads them: after
/// a member ends, any further byte must start another member; anything else is trailing data.
/// `@_spi(Benchmarks)`: visible to Benchmarks/ (the per-stage benchmarks) only; internal otherwise.
@_spi(Benchmarks) public final class ISALInflater: Decompressor {
    private let state: UnsafeMutablePointer<inflate_state>
    /// True from the end of one member until the next one produces output.
    private var betweenMembers = false
    /// Whether the bytes after the last complete member start like a gzip member (so that a stream
    /// ending there is a truncated member rather than trailing data).
    private var nextLooksLikeGzip = true

    @_spi(Benchmarks) public init() {
        state = .allocate(capacity: 1)
        isal_inflate_init(state)
        state.pointee.crc_flag = UInt32(ISAL_GZIP)
    }

    deinit {
        state.deallocate()
    }

    @_spi(Benchmarks) public func decompress(_ input: inout UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DecodeError) -> Int {
        var produced = 0
        while produced < output.count {
            if state.pointee.block_state == ISAL_BLOCK_FINISH {
                guard !input.isEmpty else { break }
                isal_inflate_reset(state)
                state.pointee.crc_flag = UInt32(ISAL_GZIP)
                betweenMembers = true
                nextLooksLikeGzip = input.first == 0x1F
            }
            state.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
            state.pointee.avail_in = UInt32(input.count)
            state.pointee.next_out = (output.baseAddress! + produced).assumingMemoryBound(to: UInt8.self)
            state.pointee.avail_out = UInt32(output.count - produced)
            let status = isal_inflate(state)
            let consumed = input.count - Int(state.pointee.avail_in)
            input = UnsafeRawBufferPointer(rebasing: input[consumed...])
            let wrote = output.count - produced - Int(state.pointee.avail_out)
            produced += wrote
            if status < 0 { throw error(for: status) }
            if wrote > 0 { betweenMembers = false }
            if consumed == 0 && wrote == 0 && state.pointee.block_state != ISAL_BLOCK_FINISH { break }
        }
        return produced
    }

    @_spi(Benchmarks) public func finish() throws(DecodeError) {
        if betweenMembers && !nextLooksLikeGzip {
            throw DecodeError(kind: .trailingData, message: "trailing data after gzip stream")
        }
        if state.pointee.block_state != ISAL_BLOCK_FINISH {
            throw DecodeError(kind: .truncated, message: "truncated gzip stream: it ends before its last member is complete")
        }
    }

    private func error(for status: Int32) -> DecodeError {
        switch status {
        case ISAL_INVALID_WRAPPER where betweenMembers, ISAL_UNSUPPORTED_METHOD where betweenMembers:
            return DecodeError(kind: .trailingData, message: "trailing data after gzip stream")
        case ISAL_INCORRECT_CHECKSUM:
            return DecodeError(kind: .corrupt, message: "corrupt gzip stream: checksum mismatch")
        case ISAL_INVALID_WRAPPER:
            return DecodeError(kind: .corrupt, message: "corrupt gzip stream: invalid gzip header")
        case ISAL_UNSUPPORTED_METHOD:
            return DecodeError(kind: .corrupt, message: "corrupt gzip stream: unsupported compression method")
        default:
            return DecodeError(kind: .corrupt, message: "corrupt gzip stream: invalid deflate data (isal_inflate \(status))")
        }
    }
}
