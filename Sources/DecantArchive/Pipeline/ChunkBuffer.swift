/// A fixed-size block of memory that carries bytes from the decoding thread to the applying and
/// hashing threads. It owns its allocation; ``ChunkQueue`` hands it to the producer alone, then to
/// the readers, which only read it, and back to the producer once every reader is done (hence
/// `@unchecked Sendable`).
/// `@_spi(Benchmarks)`: visible to Benchmarks/ (the per-stage benchmarks) only; internal otherwise.
@_spi(Benchmarks) public final class ChunkBuffer: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer
    /// How many bytes at the start of `storage` are valid.
    @_spi(Benchmarks) public var count = 0

    @_spi(Benchmarks) public init(capacity: Int) {
        storage = .allocate(byteCount: capacity, alignment: 4096)
    }

    deinit {
        storage.deallocate()
    }

    @_spi(Benchmarks) public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[..<count]) }
    @_spi(Benchmarks) public var free: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: storage[count...]) }
    var isFull: Bool { count == storage.count }
}
