/// One entry of a layer's tar stream, with GNU long names and PAX records already merged in, the
/// way Go's `archive/tar` presents it to containerd.
public struct TarEntry: Sendable {
    /// What kind of file the entry makes.
    public enum Kind: Sendable, Equatable {
        case regular
        case directory
        case symlink
        case hardlink
        case characterDevice
        case blockDevice
        case fifo
        /// A PAX global header (`g`), which layers may carry and appliers ignore.
        case globalHeader
        /// Anything else (GNU sparse `S`, dumpdir `D`, contiguous `7`, unknown letters).
        case unsupported(typeflag: UInt8)
    }

    public var kind: Kind
    /// The name as the archive spells it (before cleaning).
    public var name: String
    /// The symlink target or hardlink name.
    public var linkName: String
    /// The permission bits including setuid, setgid and sticky (`07777`).
    public var mode: UInt32
    /// Owner ids as the archive has them; they go to the kernel truncated to 32 bits, as Go passes them.
    public var uid: Int64
    public var gid: Int64
    /// Bytes of data that follow the header.
    public var size: Int64
    public var modificationTime: TarTime
    /// Only PAX and GNU headers carry one; `nil` otherwise.
    public var accessTime: TarTime?
    public var deviceMajor: Int64
    public var deviceMinor: Int64
    /// `SCHILY.xattr.*` records, in the order the archive lists them.
    public var xattrs: [(key: String, value: [UInt8])]
}

/// A time from a tar header: seconds since the epoch and nanoseconds.
public struct TarTime: Sendable, Equatable, Comparable {
    public var seconds: Int64
    public var nanoseconds: Int64

    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func < (lhs: TarTime, rhs: TarTime) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }
}
