import DecantIO
import DecantOCI
import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Writes one blob into its ingest directory, then commits it under its digest.
///
/// The ingest directory is locked (`flock`) for as long as this writer lives, so a second writer
/// of the same ref — in this process or another — cannot interleave. A writer over an existing
/// partial ingest resumes at ``offset`` (the bytes already there are hashed again first).
public final class IngestWriter {
    public let ref: String
    public let expected: Digest?
    public let total: Int64?
    /// Bytes written so far, including those of an earlier, interrupted writer. The last of them
    /// may still be on their way to the file until ``commit(size:digest:labels:)``.
    public private(set) var offset: Int64 = 0

    private let store: ContentStore
    private let directory: String
    private let data: OwnedDescriptor
    private let lock: OwnedDescriptor
    private var hasher = DigestHasher()
    private let hashing: Bool
    private var writeback = WritebackCursor()
    /// Writes a big blob past the page cache; `nil` for small blobs and where direct I/O is not
    /// available, which write through `data`.
    private var direct: DirectFileAppender?

    init(store: ContentStore, ref: String, expected: Digest?, total: Int64?, directory: String, hashing: Bool = true) throws(StoreError) {
        self.store = store
        self.hashing = hashing
        self.ref = ref
        self.expected = expected
        self.total = total
        self.directory = directory
        lock = try Self.lockDirectory(directory, ref: ref)
        let root = FileDescriptor(rawValue: AT_FDCWD)
        do {
            data = OwnedDescriptor(taking: try root.openEntry(directory + "/data", flags: O_RDWR | O_CREAT, mode: 0o600))
            try Self.writeSmallFile(directory + "/ref", ref)
            // Kept from the first writer; written again if a crash left it empty or torn.
            if (try? String(contentsOfFile: directory + "/startedat", encoding: .utf8)).flatMap(Double.init) == nil {
                try Self.writeSmallFile(directory + "/startedat", String(Date().timeIntervalSince1970))
            }
            if let total { try Self.writeSmallFile(directory + "/total", String(total)) }
            if let expected { try Self.writeSmallFile(directory + "/expected", expected.description) }
        } catch {
            throw StoreError(.io, "cannot open the ingest data for \(ref)", describing: error)
        }
        try rehashExisting()
        if let total, total - offset >= Int64(DirectFileAppender.chunkSize) {
            direct = Self.directAppender(directory + "/data", offset: offset)
        }
    }

    /// Makes the ingest directory and locks it, again if it was removed meanwhile: a writer that
    /// commits or gives up removes the directory while it still holds the lock, so a lock taken
    /// on the file it removed would guard nothing.
    private static func lockDirectory(_ directory: String, ref: String) throws(StoreError) -> OwnedDescriptor {
        for _ in 0..<100 {
            do {
                // Not FileManager's, which fails when another writer makes the directory between
                // its check and its mkdir.
                try FileDescriptor(rawValue: AT_FDCWD).makeDirectory(directory, mode: 0o755)
            } catch where error.errno == .fileExists {
                // An earlier writer's, to resume, or one another writer has just made.
            } catch {
                throw StoreError(.io, "cannot create the ingest directory for \(ref)", cause: error)
            }
            let lock: OwnedDescriptor?
            do {
                lock = try OwnedDescriptor.lockedFileIfFree(at: directory + "/lock")
            } catch where error.errno == .noSuchFileOrDirectory {
                continue
            } catch {
                throw StoreError(.io, "cannot lock the ingest of \(ref)", describing: error)
            }
            guard let lock else { throw StoreError(.unavailable, "ref \(ref) is locked: another writer is ingesting it") }
            return lock
        }
        throw StoreError(.unavailable, "ref \(ref) is locked: its ingest keeps being removed and made again")
    }

    /// An appender on a descriptor of its own (``writtenBytes()`` reads `data`, which direct I/O
    /// would constrain), or `nil` where direct I/O is not available.
    private static func directAppender(_ path: String, offset: Int64) -> DirectFileAppender? {
        guard let appender = DirectFileAppender(),
              let file = try? FileDescriptor(rawValue: AT_FDCWD).openEntry(path, flags: O_WRONLY) else { return nil }
        guard appender.start(OwnedDescriptor(taking: file), path: path, offset: offset) else { return nil }
        return appender
    }

    /// Appends `bytes` at ``offset``.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(StoreError) {
        do {
            if let direct {
                try direct.append(bytes)
            } else {
                try data.descriptor.writeAll(bytes, at: offset, path: directory + "/data")
            }
        } catch {
            throw writeFailure(error)
        }
        advance(past: bytes)
    }

    /// Room for up to `limit` of the next bytes in the buffer they are written to the disk from,
    /// for a caller that would otherwise fill a buffer of its own and ``write(_:)`` it; `nil` when
    /// this writer has no such buffer (a small blob, or no direct I/O). Hand over what was filled
    /// with ``writeReserved(_:)``; the bytes stay there unchanged until the next call on this writer.
    public func reservation(upTo limit: Int) -> UnsafeMutableRawBufferPointer? {
        direct?.reservation(upTo: limit)
    }

    /// Appends the first `count` bytes of the last ``reservation(upTo:)``, which the caller filled.
    public func writeReserved(_ count: Int) throws(StoreError) {
        guard let direct else { preconditionFailure("a reservation was made") }
        let bytes: UnsafeRawBufferPointer
        do {
            bytes = try direct.appendReserved(count)
        } catch {
            throw writeFailure(error)
        }
        advance(past: bytes)
    }

    /// Accounts for `bytes`, just handed to the file.
    private func advance(past bytes: UnsafeRawBufferPointer) {
        if hashing { hasher.update(bytes) }
        offset += Int64(bytes.count)
        if direct == nil {
            // The blob is fsynced at commit: writing it out as it arrives leaves that fsync little
            // to wait for, and the disk works while the layer is still being extracted.
            writeback.advance(data.descriptor, written: offset, minimum: Self.writebackStride)
        }
        if (direct?.written ?? offset) >= 1 << 20 { Failpoint.hit("content-mid-ingest") }
    }

    private static let writebackStride: Int64 = 8 << 20

    private func writeFailure(_ error: SystemCallError) -> StoreError {
        StoreError(.io, "cannot write ingest \(ref)", cause: error)
    }

    /// Waits for the writes this thread started: call it on the thread that wrote, before that
    /// thread ends and another one commits (see ``DirectFileAppender``).
    public func settle() throws(StoreError) {
        do {
            try direct?.settle()
        } catch {
            throw writeFailure(error)
        }
    }

    public func write(_ bytes: [UInt8]) throws(StoreError) {
        let result: Result<Void, StoreError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(StoreError) in try write(buffer) }
        }
        try result.get()
    }

    /// Commits a blob whose bytes the caller hashed on their way here (a writer opened with
    /// `hashing: false`): `digest` is what it measured, and must be what the writer was opened to
    /// expect. The size is checked against what was written.
    @discardableResult
    public func commit(verified digest: Digest, size: Int64, labels: [String: String] = [:]) throws(StoreError) -> ContentInfo {
        if size != offset || (total.map { $0 != offset } ?? false) {
            discard()
            throw StoreError(.digestMismatch, "blob \(digest) has \(offset) bytes written, expected \(total ?? size)")
        }
        if let expected, expected != digest {
            discard()
            throw StoreError(.digestMismatch, "blob \(ref) has digest \(digest), expected \(expected)")
        }
        return try publish(digest, labels: labels)
    }

    /// Verifies what was written against `size` and `digest` (or what the writer was opened
    /// with), makes it durable and visible under its digest, and records `labels`.
    ///
    /// A blob that does not verify is discarded: a later writer starts from zero.
    @discardableResult
    public func commit(size: Int64? = nil, digest: Digest? = nil, labels: [String: String] = [:]) throws(StoreError) -> ContentInfo {
        let actual = hasher.finalize()
        let wantedSize = size ?? total
        let wantedDigest = digest ?? expected
        if let wantedSize, wantedSize != offset {
            discard()
            throw StoreError(.digestMismatch, "blob \(wantedDigest?.description ?? ref) has \(offset) bytes, expected \(wantedSize)")
        }
        if let wantedDigest, wantedDigest != actual {
            discard()
            throw StoreError(.digestMismatch, "blob \(ref) has digest \(actual), expected \(wantedDigest)")
        }
        return try publish(actual, labels: labels)
    }

    private func publish(_ digest: Digest, labels: [String: String] = [:]) throws(StoreError) -> ContentInfo {
        do {
            try direct?.finish()
        } catch {
            discard()
            throw writeFailure(error)
        }
        if fsync(data.rawValue) != 0 {
            let error = StoreError(.io, "fsync of ingest \(ref) failed", cause: SystemCallError("fsync", path: directory + "/data", errno: Errno(rawValue: errno)))
            // The kernel reports a failed writeback once, and may still serve the lost bytes from
            // its cache: a writer resuming this ingest would verify them there and commit a blob
            // whose file lacks them. The bytes are written again instead.
            discard()
            throw error
        }
        let info: ContentInfo
        do throws(StoreError) {
            info = try store.publish(ingestData: directory + "/data", file: data.descriptor, digest: digest, labels: labels)
        } catch {
            // The disk or the database failed: the bytes are written again, as after a failed fsync.
            discard()
            throw error
        }
        try? store.removeIngestDirectory(directory)
        return info
    }

    /// The bytes an interrupted earlier writer left, to be read before the rest of the blob when
    /// a transfer resumes at ``offset``. Taken before this writer writes.
    public func writtenBytes() -> any ByteSource {
        FileRangeByteSource(file: data, path: directory + "/data", offset: 0, length: offset)
    }

    /// Deletes the partial data (the ingest directory), for a write that will not be resumed.
    public func discard() {
        direct = nil
        try? store.removeIngestDirectory(directory)
        hasher = DigestHasher()
        offset = 0
    }

    /// Counts (and, when hashing, hashes) the bytes an interrupted writer left.
    private func rehashExisting() throws(StoreError) {
        if !hashing {
            offset = fileSize(directory + "/data") ?? 0
            return
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let count = pread(data.rawValue, buffer.baseAddress, buffer.count, off_t(offset))
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError(.io, "cannot read ingest \(ref)", cause: SystemCallError("pread", path: directory, errno: Errno(rawValue: errno)))
            }
            if count == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            offset += Int64(count)
        }
    }

    /// Writes one of the files that describe the ingest (for listing, resuming and `gc`) without
    /// the fsync `Data.write` does: that was four fsyncs per blob, each a wait for the disk
    /// (0.2–0.6 ms on this machine's disk, more on a journalled one). What these files say
    /// decides nothing about the blob, which is verified and fsynced at commit; a crash may lose
    /// one, and a writer resuming the ingest writes it again.
    private static func writeSmallFile(_ path: String, _ text: String) throws(SystemCallError) {
        let file = OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(path, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644))
        let written: Result<Void, SystemCallError> = Array(text.utf8).withUnsafeBytes { bytes in
            Result { () throws(SystemCallError) in try file.descriptor.writeAll(bytes, path: path) }
        }
        try written.get()
    }
}
