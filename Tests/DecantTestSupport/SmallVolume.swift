import Foundation

/// A fresh ext4 (no journal, like this machine's root) of a few megabytes on a loop device,
/// mounted inside a scratch directory: a file system a test can fill. Needs root.
public struct SmallVolume {
    public let mountPoint: URL

    public init(in scratch: Scratch, megabytes: Int) throws {
        let image = scratch.url.appendingPathComponent("volume-\(UUID().uuidString.prefix(6)).img")
        mountPoint = try scratch.directory("volume-\(UUID().uuidString.prefix(6))")
        try Shell.check(["truncate", "-s", "\(megabytes)M", image.path])
        try Shell.check(["mkfs.ext4", "-q", "-F", "-O", "^has_journal", image.path])
        try Shell.check(["mount", "-o", "loop", image.path, mountPoint.path])
    }

    /// Shuts the file system down as a disk that died would leave it (ext4's `EXT4_IOC_SHUTDOWN`,
    /// flushing nothing): it stays mounted, and every operation on it fails with EIO from now on.
    public func shutDown() throws {
        try Shell.check(["python3", "-c", """
            import fcntl, os, struct, sys
            EXT4_IOC_SHUTDOWN, EXT4_GOING_FLAGS_NOLOGFLUSH = 0x8004587D, 2
            fcntl.ioctl(os.open(sys.argv[1], os.O_RDONLY), EXT4_IOC_SHUTDOWN, struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
            """, mountPoint.path])
    }

    /// Detaches the volume at once, also while the test still holds files on it open (a store's
    /// database): the kernel lets go of it, and of its loop device, once they are closed. A plain
    /// `umount` fails with EBUSY then, leaving a mount behind on the machine.
    public func unmount() {
        _ = try? Shell.run(["umount", "--lazy", mountPoint.path])
    }
}
