import Foundation

/// A fresh ext4 (no journal) on a loop device whose sparse backing file lives on a small tmpfs.
/// Once ``failWriteback()`` has filled that tmpfs, the loop device cannot store a block it has not
/// stored before: the kernel's writeback of new file data fails, and `fsync` reports it — once,
/// as it reports a failing disk's EIO (here ENOSPC), while the page cache may still hold the
/// bytes that never reached the disk.
///
/// A real writeback error, where this machine's kernel has no device-mapper (`dm-flakey`) and no
/// fault injection. Needs root.
public struct WritebackFailingVolume: Sendable {
    public let mountPoint: URL
    private let backing: URL

    public init(in scratch: Scratch) throws {
        let suffix = UUID().uuidString.prefix(6)
        backing = try scratch.directory("backing-\(suffix)")
        mountPoint = try scratch.directory("volume-\(suffix)")
        try Shell.check(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", backing.path])
        let image = backing.appendingPathComponent("volume.img").path
        try Shell.check(["truncate", "-s", "64M", image])
        try Shell.check(["mkfs.ext4", "-q", "-F", "-O", "^has_journal", image])
        try Shell.check(["mount", "-o", "loop", image, mountPoint.path])
    }

    /// Writes back what the volume holds so far, then fills the tmpfs under it: from now on,
    /// writing back new data fails.
    public func failWriteback() throws {
        try Shell.check(["sync", "-f", mountPoint.path])
        // dd ends with "No space left on device", which is the point.
        _ = try Shell.run(["dd", "if=/dev/zero", "of=" + backing.appendingPathComponent("filler").path, "bs=1M"])
    }

    /// Frees the tmpfs again: writeback works as before.
    public func restoreWriteback() throws {
        try FileManager.default.removeItem(at: backing.appendingPathComponent("filler"))
    }

    /// Detaches the volume and its tmpfs at once, also while the test still holds files on it
    /// open (see ``SmallVolume/unmount()``).
    public func unmount() {
        _ = try? Shell.run(["umount", "--lazy", mountPoint.path])
        _ = try? Shell.run(["umount", "--lazy", backing.path])
    }
}
