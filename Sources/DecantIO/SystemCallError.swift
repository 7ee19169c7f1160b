import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on which path (relative to the directory it was made in),
/// and the errno it returned.
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The system call's name, e.g. `openat2`.
    public var syscall: String
    /// The path the call was made on, when it had one.
    public var path: String?
    /// What the kernel answered.
    public var errno: Errno

    public init(_ syscall: String, path: String? = nil, errno: Errno) {
        self.syscall = syscall
        self.path = path
        self.errno = errno
    }

    public var description: String {
        if let path { return "\(syscall) \(path): \(errno)" }
        return "\(syscall): \(errno)"
    }
}

/// Calls `body` until it does not fail with EINTR; a negative result throws with the current errno.
@inline(__always)
func check(_ syscall: String, path: String? = nil, _ body: () -> Int32) throws(SystemCallError) -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let errno = Errno(rawValue: Glibc.errno)
        if errno == .interrupted { continue }
        throw SystemCallError(syscall, path: path, errno: errno)
    }
}
