import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The flags of `mount(2)` a snapshot's mounts use.
public struct MountFlags: OptionSet, Sendable {
    public let rawValue: UInt

    public init(rawValue: UInt) {
        self.rawValue = rawValue
    }

    public static let readOnly = MountFlags(rawValue: UInt(MS_RDONLY))
    public static let bind = MountFlags(rawValue: UInt(MS_BIND))
    /// With ``bind``: the mounts below the source too.
    public static let recursive = MountFlags(rawValue: UInt(MS_REC))
    public static let remount = MountFlags(rawValue: UInt(MS_REMOUNT))
}

/// `mount(2)`, typed.
public enum KernelMount {
    /// Mounts `source` (a file system of `type`, or with ``MountFlags/bind`` a directory) at
    /// `target`, handing `data` to the file system as its options.
    public static func mount(source: String, target: String, type: String?, flags: MountFlags, data: String?) throws(SystemCallError) {
        let result = data.withOptionalCString { data in
            type.withOptionalCString { type in Glibc.mount(source, target, type, flags.rawValue, data) }
        }
        if result != 0 { throw SystemCallError("mount", path: target, errno: Errno(rawValue: errno)) }
    }
}

extension Optional where Wrapped == String {
    fileprivate func withOptionalCString<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
        switch self {
        case .some(let string): string.withCString { body($0) }
        case .none: body(nil)
        }
    }
}
