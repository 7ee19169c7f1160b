/// A fixed-size block of memory that carries bytes from the decoding thread to the applying
/// thread. It owns its allocation; ownership of the whole buffer passes through ``ChunkQueue``, so
/// exactly one thread touches it at a time (hence `@unchecked Sendable`).
final class ChunkBuffer: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer
    /// How many bytes at the start of `storage` are valid.
    var count = 0

    init(capacity: Int) {
        storage = .allocate(byteCount: capacity, alignment: 4096)
    }

    deinit {
        storage.deallocate()
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[..<count]) }
    var free: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: storage[count...]) }
    var isFull: Bool { count == storage.count }
}
