import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

extension FileDescriptor {
    /// Takes this file's exclusive `flock(2)` lock, waiting while another open file description
    /// holds it in any mode; it is released when the descriptor is closed. Independent of the
    /// `fcntl` record locks SQLite uses, so it can guard a database's directory without
    /// disturbing them.
    public func lockExclusively(path: String) throws(SystemCallError) {
        try lock(LOCK_EX, path: path)
    }

    /// Takes this file's `flock(2)` lock shared with other shared holders, waiting while one holds
    /// it exclusively.
    public func lockShared(path: String) throws(SystemCallError) {
        try lock(LOCK_SH, path: path)
    }

    /// Takes this file's exclusive `flock(2)` lock if no other open file description holds it:
    /// `false` when one does, without waiting.
    public func tryLockExclusively(path: String) throws(SystemCallError) -> Bool {
        while flock(rawValue, LOCK_EX | LOCK_NB) != 0 {
            let error = Errno(rawValue: errno)
            if error == .wouldBlock { return false }
            guard error == .interrupted else { throw SystemCallError("flock", path: path, errno: error) }
        }
        return true
    }

    private func lock(_ operation: CInt, path: String) throws(SystemCallError) {
        while flock(rawValue, operation) != 0 {
            let error = Errno(rawValue: errno)
            guard error == .interrupted else { throw SystemCallError("flock", path: path, errno: error) }
        }
    }
}
