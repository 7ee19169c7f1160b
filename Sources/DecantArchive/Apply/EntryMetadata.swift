import DecantIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// An entry's owner, extended attributes, mode and times, applied in containerd's order.
///
/// The order matters: `chown` clears setuid/setgid bits that the later `chmod` sets again, and a
/// data write clears `security.capability`, so for regular files all of this comes after the data.
struct EntryMetadata {
    var uid: uid_t
    var gid: gid_t
    /// `SCHILY.xattr.*` records, without `trusted.*` (never taken from an archive: a layer could
    /// forge overlay markers with it).
    var xattrs: [(key: String, value: [UInt8])]
    var mode: mode_t
    var times: FileTimes

    init(_ entry: TarEntry) {
        // Go hands ids to the kernel as machine integers, which keeps their low 32 bits.
        uid = UInt32(truncatingIfNeeded: entry.uid)
        gid = UInt32(truncatingIfNeeded: entry.gid)
        xattrs = entry.xattrs.filter { !$0.key.hasPrefix("trusted.") }
        mode = mode_t(entry.mode)
        times = Self.times(entry)
    }

    /// Applies everything to an open regular file or directory; directories get their times
    /// after the whole layer, so `settingTimes` is false for them.
    ///
    /// With the file's `current` status, an owner or mode it already has is not set again: for a
    /// file the applier just created, a `chown` to its own owner and a `chmod` to its own mode
    /// change nothing but cost a system call and an inode update each, per file.
    func apply(to descriptor: FileDescriptor, path: String, settingTimes: Bool = true,
               current: FileStatus? = nil) throws(SystemCallError) {
        let owned = current.map { $0.uid == uid && $0.gid == gid } ?? false
        if !owned { try descriptor.changeOwner(uid: uid, gid: gid, path: path) }
        for (key, value) in xattrs {
            do throws(SystemCallError) {
                try descriptor.setExtendedAttribute(key, value: value, path: path)
            } catch where Self.ignorable(error, key: key, regularOrDirectory: true) {}
        }
        // A chown clears setuid and setgid: after one, the mode is set whatever it was.
        if !owned || current!.mode & 0o7777 != mode & 0o7777 { try descriptor.changeMode(mode, path: path) }
        if settingTimes { try descriptor.setTimes(times, path: path) }
    }

    /// Applies everything to an entry that cannot be opened (symlink, device, fifo, hardlink);
    /// symlinks get no mode, having none.
    func apply(toEntry name: String, in parent: FileDescriptor, path: String,
               status: FileStatus) throws(SystemCallError) {
        try parent.changeOwner(of: name, uid: uid, gid: gid)
        for (key, value) in xattrs {
            do throws(SystemCallError) {
                try parent.setExtendedAttribute(of: name, key, value: value)
            } catch where Self.ignorable(error, key: key, regularOrDirectory: status.isRegular || status.isDirectory) {}
        }
        if !status.isSymlink { try parent.changeMode(of: name, mode: mode) }
        try parent.setTimes(of: name, times)
    }

    /// containerd skips `user.*` on file types that cannot hold it, and attributes the
    /// filesystem does not support.
    private static func ignorable(_ error: SystemCallError, key: String, regularOrDirectory: Bool) -> Bool {
        error.errno == .notSupported || (error.errno == .notPermitted && key.hasPrefix("user.") && !regularOrDirectory)
    }

    /// containerd's times: atime is the later of atime and mtime, and anything outside
    /// 1970…2262 becomes the epoch.
    static func times(_ entry: TarEntry) -> FileTimes {
        let modification = entry.modificationTime
        let access = max(entry.accessTime ?? modification, modification)
        return FileTimes(access: bounded(access), modification: bounded(modification))
    }

    private static func bounded(_ time: TarTime) -> timespec {
        let maximum = TarTime(seconds: 9_223_372_036, nanoseconds: 854_775_807)
        if time < TarTime(seconds: 0) || time > maximum { return timespec(tv_sec: 0, tv_nsec: 0) }
        return timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))
    }
}
