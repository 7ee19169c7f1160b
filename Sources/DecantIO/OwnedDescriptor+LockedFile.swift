import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

extension OwnedDescriptor {
    /// The file at `path` (made if need be), open and exclusively locked (`flock(2)`), waiting
    /// for another holder. A holder that is done removes the file while it still holds it, so a
    /// file removed or replaced between the open and the lock is opened again: a lock on a file
    /// nobody can find any more guards nothing. Fails with `ENOENT` when the directory is gone.
    public static func lockedFile(at path: String) throws(SystemCallError) -> OwnedDescriptor {
        while true {
            let file = try openOrMake(path)
            try file.descriptor.lockExclusively(path: path)
            if file.isStillNamed(path) { return file }
        }
    }

    /// As ``lockedFile(at:)``, but `nil` at once when another holder has the lock.
    public static func lockedFileIfFree(at path: String) throws(SystemCallError) -> OwnedDescriptor? {
        while true {
            let file = try openOrMake(path)
            guard try file.descriptor.tryLockExclusively(path: path) else { return nil }
            if file.isStillNamed(path) { return file }
        }
    }

    private static func openOrMake(_ path: String) throws(SystemCallError) -> OwnedDescriptor {
        OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(path, flags: O_RDWR | O_CREAT, mode: 0o600))
    }

    /// Whether `path` still names the file this descriptor has open (same device and inode).
    public func isStillNamed(_ path: String) -> Bool {
        var held = stat()
        var named = stat()
        return fstat(rawValue, &held) == 0 && stat(path, &named) == 0 && held.st_ino == named.st_ino && held.st_dev == named.st_dev
    }
}
