#if canImport(Glibc)
import Glibc
#endif

/// Access and modification times with nanosecond precision, as `utimensat(2)` takes them.
public struct FileTimes: Sendable, Equatable {
    public var access: timespec
    public var modification: timespec

    public init(access: timespec, modification: timespec) {
        self.access = access
        self.modification = modification
    }

    public static func == (lhs: FileTimes, rhs: FileTimes) -> Bool {
        lhs.access.tv_sec == rhs.access.tv_sec && lhs.access.tv_nsec == rhs.access.tv_nsec
            && lhs.modification.tv_sec == rhs.modification.tv_sec
            && lhs.modification.tv_nsec == rhs.modification.tv_nsec
    }
}
