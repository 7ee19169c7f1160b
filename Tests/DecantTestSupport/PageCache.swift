import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What of a file the page cache holds.
public enum PageCache {
    /// How many of the file's pages are cached: mincore(2) over a mapping of it, which does not
    /// read it in.
    public static func residentPages(_ path: String) throws -> Int {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        let size = Int(lseek(descriptor, 0, SEEK_END))
        guard size > 0 else { return 0 }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_SHARED, descriptor, 0), mapping != MAP_FAILED else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        defer { munmap(mapping, size) }
        var vector = [UInt8](repeating: 0, count: (size + 4095) / 4096)
        guard mincore(mapping, size, &vector) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return vector.filter { $0 & 1 != 0 }.count
    }

    /// The pages a file of `bytes` bytes takes.
    public static func pages(_ bytes: Int) -> Int { (bytes + 4095) / 4096 }
}
