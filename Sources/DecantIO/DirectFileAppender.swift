import CDecantShim
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Appends to files with direct I/O (`O_DIRECT`): the bytes go from this appender's buffers to
/// the disk, not through the page cache.
///
/// For data that must reach the disk before it is used anyway and is not read back soon: a layer
/// blob on its way into the content store (fsynced at its commit), a large file a layer extracts
/// into a snapshot that is flushed before its commit. Written buffered, such data takes as much
/// page cache as its size (a new page and a copy per 4 KiB, then the writeback's work), evicting
/// what the machine was caching, and is written out by the flush all the same.
///
/// Bytes are staged in a ``chunkSize`` buffer; a full one is written through io_uring while the
/// next one fills, so the caller waits for the disk only when it is a whole chunk ahead. Bytes the
/// caller keeps unchanged until ``settle()`` can skip that copy (``append(borrowing:)``): where
/// they are aligned as the file system asks, they are written from where they are. A caller that
/// would fill a buffer only to append it fills the staging buffer instead (``reservation(upTo:)``),
/// which also saves the copy. One write is in flight at a time, so the file always holds a prefix
/// of what was appended, also after a SIGKILL (which an interrupted ingest relies on to resume). ``finish()`` writes the staged rest:
/// its whole blocks directly, the last partial block through the page cache.
///
/// One appender serves one file at a time and can then take the next (``start(_:path:offset:)``),
/// keeping its ring and buffers. Not thread-safe. A write in flight is tied to the thread that
/// submitted it (io_uring runs it on that thread's workers), and whether a queued write outlives
/// that thread is the kernel's business: a thread that appends and then ends calls ``settle()``
/// first. (A cancelled write would only leave the file a shorter prefix, but ``finish()`` would
/// fail.)
public final class DirectFileAppender {
    /// Bytes per direct write.
    public static let chunkSize = 1 << 20
    /// What direct writes' offsets, lengths and buffer addresses are multiples of: the page size,
    /// which covers the logical block size of any disk.
    static let alignment = 4096

    private let ring: IOUring
    private var staging: UnsafeMutableRawBufferPointer
    private var staged = 0
    /// Where the first staged byte goes: the end of what was handed to the disk.
    private var stagingOffset: Int64 = 0
    /// The staging buffer's partner: a full staging buffer is written from here while the other
    /// one fills.
    private var spare: UnsafeMutableRawBufferPointer
    /// The bytes of the write in flight (in `spare` or the caller's memory), `nil` when none is.
    private var inFlight: UnsafeRawBufferPointer?
    private var inFlightOffset: Int64 = 0
    /// What the current file's file system needs of a direct write's buffer address and of its
    /// offset and length, where it says (`statx`); `nil` writes every byte from the staging buffer.
    private var fileAlignment: (memory: Int, offset: Int)?
    /// The file being appended to, with `O_DIRECT` set, until ``finish()``; kept open until then.
    private var file: OwnedDescriptor?
    private var path = ""
    /// A write whose fate is unknown (the ring failed under it): the kernel may still read its
    /// buffer and write its file, so both stay reserved for as long as this appender lives. (A
    /// borrowed buffer is the caller's: once freed, such a write would put other bytes, or
    /// nothing, in a file that the failed append leaves incomplete anyway.)
    private var stuck = false
    /// The file system refused a direct write (an alignment it needs beyond ``alignment``):
    /// later files are left to the caller's ordinary writes.
    private var directRefused = false

    /// Bytes of the current file that are written: it is complete up to here.
    public private(set) var written: Int64 = 0
    /// Bytes copied into the staging buffer, over all files.
    private(set) var copiedBytes: Int64 = 0

    /// An appender, or `nil` where io_uring cannot be set up.
    public init?() {
        guard let ring = try? IOUring(entries: 2) else { return nil }
        self.ring = ring
        staging = .allocate(byteCount: Self.chunkSize, alignment: Self.alignment)
        spare = .allocate(byteCount: Self.chunkSize, alignment: Self.alignment)
    }

    deinit {
        // The kernel may still be reading the buffer in flight.
        try? awaitWrite()
        guard !stuck else { return }
        staging.deallocate()
        spare.deallocate()
    }

    /// Starts appending to `file` (open for writing) at `offset`, setting `O_DIRECT` on it until
    /// ``finish()``; `false`, leaving the file as it was, for an offset that is not block-aligned
    /// or a file system without direct I/O. The previous file must be finished.
    public func start(_ file: OwnedDescriptor, path: String, offset: Int64) -> Bool {
        guard !stuck, !directRefused, offset % Int64(Self.alignment) == 0 else { return false }
        precondition(self.file == nil, "the previous file is finished first")
        guard Self.setDirect(true, on: file.descriptor) else { return false }
        self.file = file
        self.path = path
        stagingOffset = offset
        written = offset
        var memory: UInt32 = 0, offsetAlignment: UInt32 = 0
        fileAlignment = decant_dio_alignment(file.descriptor.rawValue, &memory, &offsetAlignment) == 0
            ? (Int(memory), Int(max(offsetAlignment, 1))) : nil
        return true
    }

    /// Stages `bytes`, writing each chunk that fills up.
    public func append(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        var rest = bytes
        while !rest.isEmpty {
            let count = min(rest.count, staging.count - staged)
            UnsafeMutableRawBufferPointer(rebasing: staging[staged..<(staged + count)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[..<count]))
            staged += count
            copiedBytes += Int64(count)
            rest = UnsafeRawBufferPointer(rebasing: rest[count...])
            if staged == staging.count { try writeStaged() }
        }
    }

    /// Room for up to `limit` bytes at the end of the staging buffer, for a caller that would
    /// otherwise fill a buffer of its own and ``append(_:)`` it: filled in place and handed over
    /// with ``appendReserved(_:)``, the bytes are not copied. `nil` when no file is being
    /// appended to or the staging buffer cannot take more (a write of it failed).
    ///
    /// Bytes handed over this way stay where they are, unchanged, until the next call on this
    /// appender: the caller may go on reading them until then (the disk may be reading them too).
    public func reservation(upTo limit: Int) -> UnsafeMutableRawBufferPointer? {
        guard file != nil, limit > 0, staged < staging.count else { return nil }
        return UnsafeMutableRawBufferPointer(rebasing: staging[staged..<min(staging.count, staged + limit)])
    }

    /// Appends the first `count` bytes of the last ``reservation(upTo:)``, which the caller filled;
    /// returns them.
    @discardableResult
    public func appendReserved(_ count: Int) throws(SystemCallError) -> UnsafeRawBufferPointer {
        precondition(count >= 0 && count <= staging.count - staged, "no more than the reservation held")
        let appended = UnsafeRawBufferPointer(rebasing: staging[staged..<(staged + count)])
        staged += count
        if staged == staging.count { try writeStaged() }
        return appended
    }

    /// Appends `bytes`, writing straight from them what is aligned for direct I/O when nothing is
    /// staged (a caller that hands over whole blocks from aligned buffers copies nothing); the rest
    /// is staged. The caller keeps `bytes` valid and unchanged until ``settle()`` or ``finish()``
    /// returns: the disk reads them meanwhile.
    public func append(borrowing bytes: UnsafeRawBufferPointer) throws(SystemCallError) {
        guard staged == 0, let alignment = fileAlignment, let address = bytes.baseAddress,
              Int(bitPattern: address) % alignment.memory == 0, stagingOffset % Int64(alignment.offset) == 0 else {
            return try append(bytes)
        }
        let whole = bytes.count - bytes.count % alignment.offset
        if whole > 0 {
            try awaitWrite()
            try write(UnsafeRawBufferPointer(rebasing: bytes[..<whole]), at: stagingOffset)
            stagingOffset += Int64(whole)
        }
        try append(UnsafeRawBufferPointer(rebasing: bytes[whole...]))
    }

    /// Waits until the write in flight, if any, is done; the bytes still staged stay staged.
    public func settle() throws(SystemCallError) {
        try awaitWrite()
    }

    /// Writes everything appended and waits until it is written, then clears `O_DIRECT` again:
    /// the appender is free for another file, also when this throws (unless a write's fate is
    /// unknown: then it takes no other file).
    public func finish() throws(SystemCallError) {
        guard let file = file?.descriptor else { return }
        // Released last: the descriptor stays open for every use below.
        defer {
            if !stuck {
                self.file = nil
                staged = 0
            }
        }
        let blocks = staged & ~(Self.alignment - 1)
        var failure: SystemCallError?
        do throws(SystemCallError) {
            try awaitWrite()
            if blocks > 0 {
                try file.writeAll(UnsafeRawBufferPointer(rebasing: staging[..<blocks]), at: stagingOffset, path: path)
            }
        } catch {
            failure = error
        }
        let cleared = Self.setDirect(false, on: file)
        if let failure { throw failure }
        if !cleared { throw SystemCallError("fcntl(F_SETFL)", path: path, errno: Errno(rawValue: errno)) }
        let tailOffset = stagingOffset + Int64(blocks)
        if staged > blocks {
            try file.writeAll(UnsafeRawBufferPointer(rebasing: staging[blocks..<staged]), at: tailOffset, path: path)
        }
        written = stagingOffset + Int64(staged)
    }

    /// Waits for the write in flight, then starts one of the full staging buffer.
    private func writeStaged() throws(SystemCallError) {
        try awaitWrite()
        swap(&staging, &spare)
        let length = staged
        staged = 0
        try write(UnsafeRawBufferPointer(rebasing: spare[..<length]), at: stagingOffset)
        stagingOffset += Int64(length)
    }

    /// Starts the direct write of `bytes` at `offset`; none may be in flight.
    private func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(SystemCallError) {
        inFlight = bytes
        inFlightOffset = offset
        guard ring.queueWrite(file!.descriptor, bytes, offset: offset, tag: 0) else {
            preconditionFailure("a ring with no write in flight has room for one")
        }
        do {
            try ring.submit()
        } catch {
            // Still queued: submit it and wait for it now, the way a completion is awaited.
            try awaitWrite()
        }
    }

    /// Waits for the write in flight (if any); a short one is finished with `pwrite(2)`.
    private func awaitWrite() throws(SystemCallError) {
        guard let bytes = inFlight else { return }
        var result: Int32 = 0
        do {
            try ring.submitAndWaitAll { _, completed in result = completed }
        } catch {
            stuck = true
            throw error
        }
        inFlight = nil
        if result == -EINVAL {
            // An alignment this file system needs beyond ours: write these bytes, and the rest of
            // the file, through the page cache.
            directRefused = true
            fileAlignment = nil
            let descriptor = file!.descriptor
            _ = Self.setDirect(false, on: descriptor)
            try descriptor.writeAll(bytes, at: inFlightOffset, path: path)
            written = inFlightOffset + Int64(bytes.count)
            return
        }
        if result < 0 {
            throw SystemCallError("io_uring write (O_DIRECT)", path: path, errno: Errno(rawValue: -result))
        }
        if Int(result) < bytes.count {
            // Still aligned: a short direct write stops at a block boundary.
            let rest = UnsafeRawBufferPointer(rebasing: bytes[Int(result)...])
            try file!.descriptor.writeAll(rest, at: inFlightOffset + Int64(result), path: path)
        }
        written = inFlightOffset + Int64(bytes.count)
    }

    /// Sets or clears `O_DIRECT` on an open file (`fcntl(F_SETFL)`); `false` where that fails.
    private static func setDirect(_ enabled: Bool, on descriptor: FileDescriptor) -> Bool {
        let flags = fcntl(descriptor.rawValue, F_GETFL)
        guard flags >= 0 else { return false }
        return fcntl(descriptor.rawValue, F_SETFL, enabled ? flags | decant_o_direct() : flags & ~decant_o_direct()) == 0
    }
}
