import CDecantShim
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Appends to a file with direct I/O (`O_DIRECT`): the bytes go from this appender's buffers to
/// the disk, not through the page cache.
///
/// For data written once and not read back soon, such as a layer blob on its way into the
/// content store while the same bytes are being extracted: written buffered, the blob would take
/// as much page cache as its size (a new page and a copy per 4 KiB, then the writeback's work),
/// and its dirty pages would be flushed by each snapshot's `syncfs` anyway.
///
/// Bytes are staged in a ``chunkSize`` buffer; a full one is written through io_uring while the
/// next one fills, so the caller waits for the disk only when it is a whole chunk ahead. One write
/// is in flight at a time, so the file always holds a prefix of what was appended, also after a
/// SIGKILL (which an interrupted ingest relies on to resume). ``finish()`` writes the staged rest
/// (not a whole number of blocks) through the ordinary descriptor.
///
/// Not thread-safe. A write in flight is tied to the thread that submitted it (io_uring runs it on
/// that thread's workers), and whether a queued write outlives that thread is the kernel's
/// business: a thread that appends and then ends calls ``settle()`` first. (A cancelled write
/// would only leave the file a shorter prefix, but ``finish()`` would fail.)
public final class DirectFileAppender {
    /// Bytes per direct write.
    public static let chunkSize = 1 << 20
    /// What direct writes' offsets, lengths and buffer addresses are multiples of: the page size,
    /// which covers the logical block size of any disk.
    static let alignment = 4096

    private let direct: OwnedDescriptor
    private let buffered: FileDescriptor
    private let path: String
    private let ring: IOUring
    private var staging: UnsafeMutableRawBufferPointer
    private var staged = 0
    /// Where the first staged byte goes.
    private var stagingOffset: Int64
    /// The buffer of the write in flight; its length is 0 when none is.
    private var writing: UnsafeMutableRawBufferPointer
    private var writingLength = 0
    private var writingOffset: Int64 = 0

    /// Bytes of the file that are written: the file is complete up to here.
    public private(set) var written: Int64

    /// An appender writing `path` from `offset` on, or `nil` where direct I/O cannot be used: an
    /// offset that is not block-aligned, a file system without `O_DIRECT` (`EINVAL`), or no
    /// io_uring. `buffered`, the caller's descriptor of the same file, writes the final rest.
    public init?(path: String, buffered: FileDescriptor, offset: Int64) {
        guard offset % Int64(Self.alignment) == 0,
              let direct = try? FileDescriptor(rawValue: AT_FDCWD).openEntry(path, flags: O_WRONLY | decant_o_direct()),
              let ring = try? IOUring(entries: 2)
        else { return nil }
        self.direct = OwnedDescriptor(taking: direct)
        self.buffered = buffered
        self.path = path
        self.ring = ring
        staging = .allocate(byteCount: Self.chunkSize, alignment: Self.alignment)
        writing = .allocate(byteCount: Self.chunkSize, alignment: Self.alignment)
        stagingOffset = offset
        written = offset
    }

    deinit {
        // The kernel may still be reading the buffer in flight.
        try? awaitWrite()
        staging.deallocate()
        writing.deallocate()
    }

    /// Stages `bytes`, writing each chunk that fills up.
    public func append(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        var rest = bytes
        while !rest.isEmpty {
            let count = min(rest.count, staging.count - staged)
            UnsafeMutableRawBufferPointer(rebasing: staging[staged..<(staged + count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[..<count]))
            staged += count
            rest = UnsafeRawBufferPointer(rebasing: rest[count...])
            if staged == staging.count { try writeStaged() }
        }
    }

    /// Waits until the write in flight, if any, is done; the bytes still staged stay staged.
    public func settle() throws(SystemCallError) {
        try awaitWrite()
    }

    /// Writes everything appended, and waits until it is written. The appender takes no more
    /// bytes after this.
    public func finish() throws(SystemCallError) {
        try awaitWrite()
        if staged > 0 {
            try buffered.writeAll(UnsafeRawBufferPointer(rebasing: staging[..<staged]), at: stagingOffset, path: path)
            written = stagingOffset + Int64(staged)
            stagingOffset = written
            staged = 0
        }
    }

    /// Waits for the write in flight, then starts one of the full staging buffer.
    private func writeStaged() throws(SystemCallError) {
        try awaitWrite()
        swap(&staging, &writing)
        writingLength = staged
        writingOffset = stagingOffset
        stagingOffset += Int64(staged)
        staged = 0
        guard ring.queueWrite(direct.descriptor, UnsafeRawBufferPointer(rebasing: writing[..<writingLength]), offset: writingOffset, tag: 0) else {
            preconditionFailure("a ring with no write in flight has room for one")
        }
        try ring.submit()
    }

    /// Waits for the write in flight (if any); a short one is finished through the buffered
    /// descriptor.
    private func awaitWrite() throws(SystemCallError) {
        guard writingLength > 0 else { return }
        var result: Int32 = 0
        try ring.submitAndWaitAll { _, completed in result = completed }
        let length = writingLength
        writingLength = 0
        if result < 0 {
            throw SystemCallError("io_uring write (O_DIRECT)", path: path, errno: Errno(rawValue: -result))
        }
        if Int(result) < length {
            let rest = UnsafeRawBufferPointer(rebasing: writing[Int(result)..<length])
            try buffered.writeAll(rest, at: writingOffset + Int64(result), path: path)
        }
        written = writingOffset + Int64(length)
    }
}
