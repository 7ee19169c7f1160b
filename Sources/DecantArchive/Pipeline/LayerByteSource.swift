import DecantIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Where a layer blob's bytes come from. Read by the layer's decoding thread only.
public protocol LayerByteSource: Sendable {
    /// Reads up to `buffer.count` bytes; 0 means the end of the blob.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int
}

/// A blob in a file.
public final class FileByteSource: LayerByteSource {
    private let file: OwnedDescriptor
    private let path: String

    /// Opens `path` for reading.
    public init(path: FilePath) throws(SystemCallError) {
        let fd = try FileDescriptor(rawValue: AT_FDCWD).openEntry(path.string, flags: O_RDONLY)
        self.file = OwnedDescriptor(taking: fd)
        self.path = path.string
        _ = posix_fadvise(fd.rawValue, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        while true {
            let count = Glibc.read(file.rawValue, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let errno = Errno(rawValue: Glibc.errno)
            if errno != .interrupted { throw SystemCallError("read", path: path, errno: errno) }
        }
    }
}
