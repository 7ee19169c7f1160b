/// A lease that lasts while the process that made it runs: its lock file, `leases/<id>` in the
/// store, is locked (`flock(2)`) for as long as this object lives, and the kernel releases the
/// lock when the process ends however it ends (SIGKILL, the OOM killer). A collection that can
/// take the lock knows the holder is gone and deletes the lease at once, freeing what a killed
/// pull left (its extraction snapshots, the blobs it stored) without waiting for the expiry.
///
/// Dropped without ``release()``, the lease stays until the next collection, as after a crash.
/// On NFS, where Linux emulates `flock` with per-process `fcntl` locks, a collection in the
/// pulling process itself would take its lease for abandoned: keep such stores local.
public final class HeldLease: Sendable {
    public let lease: Lease
    private let manager: LeaseManager
    private let lockFile: LeaseLockFile

    init(lease: Lease, manager: LeaseManager, lockFile: LeaseLockFile) {
        self.lease = lease
        self.manager = manager
        self.lockFile = lockFile
    }

    public var id: String { lease.id }

    /// Deletes the lease, then its lock file. Should the lease stay (the database failed), so
    /// does the file: the next collection after this process ends deletes the lease.
    public func release() throws(StoreError) {
        do {
            try manager.delete(lease.id)
        } catch where error.code != .notFound {
            throw error
        }
        lockFile.remove()
    }
}
