import DecantIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Keeps a garbage collection apart from what must not overlap one, across processes: a
/// collection holds the store's `gc.lock` exclusively for its whole run; a pull holds it shared
/// while it leases what it is about to use or make.
///
/// A pull leases before it checks that something exists or makes it, so with the lease added
/// outside any collection, every collection either ended before (and the pull's checks see what
/// it left) or starts after and finds the lease. Without the lock, a collection that read the
/// leases just before the pull added its own could still sweep a layer the pull had just found.
public struct CollectionLock: Sendable {
    /// The lock file; created on first use.
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Runs `body` with no collection running (waiting for one that is); collections wait for it.
    public func excludingCollection<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try holding(LOCK_SH, body)
    }

    /// Runs `body` as the only collection, with no `excludingCollection` body running.
    public func collecting<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try holding(LOCK_EX, body)
    }

    private func holding<T>(_ operation: CInt, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        let lock: OwnedDescriptor
        do {
            lock = OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(
                path, flags: O_RDWR | O_CREAT, mode: 0o600))
            if operation == LOCK_SH {
                try lock.descriptor.lockShared(path: path)
            } else {
                try lock.descriptor.lockExclusively(path: path)
            }
        } catch {
            throw StoreError(.io, "cannot lock \(path)", describing: error)
        }
        defer { withExtendedLifetime(lock) {} }
        return try body()
    }
}
