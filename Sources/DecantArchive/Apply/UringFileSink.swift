import DecantIO
import Synchronization
import Logging
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// File data written through io_uring: the writes of every file in one decoded buffer go to the
/// kernel in one submission instead of one `write(2)` each. Metadata and close follow once the
/// writes completed, at ``drain()``, which the tar reader calls before it hands a buffer back to
/// the decoder.
final class UringFileSink: RegularFileSink {
    private let ring: IOUring
    /// Writes in flight, indexed by their tag; each keeps its file (and descriptor) alive.
    private var writes: [(file: OpenFile, bytes: UnsafeRawBufferPointer, offset: Int64)] = []
    private var finishing: [OpenFile] = []
    private(set) var allocatedBytes: Int64 = 0
    private let writeback: EarlyWriteback?

    var backend: FileIOBackend { .uring }

    init(ring: IOUring, writeback: EarlyWriteback?) {
        self.ring = ring
        self.writeback = writeback
    }

    /// A sink on a new ring, or `nil` (after one log line) where io_uring cannot be set up.
    static func make(writeback: EarlyWriteback?, logger: Logger) -> UringFileSink? {
        do {
            return UringFileSink(ring: try IOUring(entries: 256), writeback: writeback)
        } catch {
            warnOnce(logger, "io_uring is not available (\(error)); writing files with plain system calls")
            return nil
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer, to file: OpenFile) throws(SystemCallError) {
        let descriptor = file.descriptor!.descriptor
        if !ring.queueWrite(descriptor, bytes, offset: file.offset, tag: UInt64(writes.count)) {
            try complete()
            guard ring.queueWrite(descriptor, bytes, offset: file.offset, tag: UInt64(writes.count)) else {
                preconditionFailure("an empty submission queue has room")
            }
        }
        writes.append((file, bytes, file.offset))
        file.offset += Int64(bytes.count)
    }

    func finish(_ file: OpenFile) throws(SystemCallError) {
        finishing.append(file)
        // Each waiting file holds a descriptor: a buffer full of tiny files must not exhaust them.
        if finishing.count >= Self.maximumOpenFiles { try drain() }
    }

    private static let maximumOpenFiles = 128

    func drain() throws(SystemCallError) {
        try complete()
        for file in finishing {
            if let writeback { file.startWriteback(writeback, final: true) }
            allocatedBytes += try file.complete()
        }
        finishing.removeAll(keepingCapacity: true)
    }

    /// Waits for every queued write; a short one is finished with `pwrite(2)`, a failed one throws.
    private func complete() throws(SystemCallError) {
        var failure: SystemCallError?
        try ring.submitAndWaitAll { tag, result in
            let write = writes[Int(tag)]
            if result < 0 {
                if failure == nil { failure = SystemCallError("io_uring write", path: write.file.path, errno: Errno(rawValue: -result)) }
            } else if Int(result) < write.bytes.count {
                let rest = UnsafeRawBufferPointer(rebasing: write.bytes[Int(result)...])
                do throws(SystemCallError) {
                    try write.file.descriptor!.descriptor.writeAll(rest, at: write.offset + Int64(result), path: write.file.path)
                } catch {
                    if failure == nil { failure = error }
                }
            }
        }
        writes.removeAll(keepingCapacity: true)
        if let failure { throw failure }
    }
}

private let warned = Mutex(false)

/// Logs `message` the first time only, for the process.
private func warnOnce(_ logger: Logger, _ message: String) {
    let first = warned.withLock { alreadyWarned in
        defer { alreadyWarned = true }
        return !alreadyWarned
    }
    if first { logger.warning("\(message)") }
}
