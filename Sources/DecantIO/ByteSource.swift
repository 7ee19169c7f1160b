import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Where a blob's bytes come from, read front to back by one thread at a time.
public protocol ByteSource: Sendable {
    /// Reads up to `buffer.count` bytes; 0 means the end of the blob.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int
    /// Up to `limit` of the next bytes, left where the source holds them: a reader that would
    /// only copy them into a buffer of its own uses them there instead. They stay valid and
    /// unchanged until the next call on this source. Empty at the end of the blob; `nil` when the
    /// source has nowhere of its own to hold them, and the reader calls ``read(into:)`` instead.
    func lend(upTo limit: Int) throws(SystemCallError) -> UnsafeRawBufferPointer?
    /// The open file holding exactly the blob's bytes, when the blob is a whole file on this
    /// machine (so that a store can link it instead of copying); owned by the source.
    var wholeFile: FileDescriptor? { get }
}

extension ByteSource {
    public var wholeFile: FileDescriptor? { nil }

    public func lend(upTo limit: Int) throws(SystemCallError) -> UnsafeRawBufferPointer? { nil }
}

/// A blob in a file.
public final class FileByteSource: ByteSource {
    private let file: OwnedDescriptor
    private let path: String

    /// Opens `path` for reading.
    public init(path: FilePath) throws(SystemCallError) {
        let fd = try FileDescriptor(rawValue: AT_FDCWD).openEntry(path.string, flags: O_RDONLY)
        self.file = OwnedDescriptor(taking: fd)
        self.path = path.string
        _ = posix_fadvise(fd.rawValue, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    public var wholeFile: FileDescriptor? { file.descriptor }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        while true {
            let count = Glibc.read(file.rawValue, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let errno = Errno(rawValue: Glibc.errno)
            if errno != .interrupted { throw SystemCallError("read", path: path, errno: errno) }
        }
    }
}

/// A byte range of a file, e.g. one member of an uncompressed tar: `pread(2)` from a shared
/// descriptor, so many ranges of one archive can be read at once.
public final class FileRangeByteSource: ByteSource {
    private let file: OwnedDescriptor
    private let path: String
    private let end: Int64
    private let position: Mutex<Int64>

    public init(file: OwnedDescriptor, path: String, offset: Int64, length: Int64) {
        self.file = file
        self.path = path
        self.end = offset + length
        self.position = Mutex(offset)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        let start = position.withLock { $0 }
        let wanted = Int(min(Int64(buffer.count), end - start))
        guard wanted > 0 else { return 0 }
        while true {
            let count = pread(file.rawValue, buffer.baseAddress, wanted, off_t(start))
            if count >= 0 {
                position.withLock { $0 += Int64(count) }
                return count
            }
            let errno = Errno(rawValue: Glibc.errno)
            if errno != .interrupted { throw SystemCallError("pread", path: path, errno: errno) }
        }
    }
}

/// One source after another: the part of a blob already on disk, then the rest from its origin.
public final class ConcatenatedByteSource: ByteSource, @unchecked Sendable {
    private let sources: [any ByteSource]
    private var current = 0

    public init(_ sources: [any ByteSource]) {
        self.sources = sources
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        while current < sources.count {
            let count = try sources[current].read(into: buffer)
            if count > 0 { return count }
            current += 1
        }
        return 0
    }

    public func lend(upTo limit: Int) throws(SystemCallError) -> UnsafeRawBufferPointer? {
        while current < sources.count {
            guard let bytes = try sources[current].lend(upTo: limit) else { return nil }
            if !bytes.isEmpty { return bytes }
            current += 1
        }
        return UnsafeRawBufferPointer(start: nil, count: 0)
    }
}
