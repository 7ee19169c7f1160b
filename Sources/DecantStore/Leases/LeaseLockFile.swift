import DecantIO
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The lock file of a ``HeldLease``, `<directory>/<lease id>`, and the open file that holds its
/// exclusive `flock(2)` lock.
///
/// The holder makes and locks the file before the lease exists, and deletes the lease before it
/// removes the file, so whenever a lease with a lock file is listed, a lock anyone else can take
/// means its holder has ended.
struct LeaseLockFile: Sendable {
    let path: String
    private let descriptor: OwnedDescriptor

    private init(path: String, descriptor: OwnedDescriptor) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Makes and locks the lock file for a new lease `id` (again if a collection removed the
    /// file between its making and its locking, taking it for a dead holder's).
    static func take(directory: String, id: String) throws(StoreError) -> LeaseLockFile {
        let path = directory + "/" + id
        do {
            return LeaseLockFile(path: path, descriptor: try OwnedDescriptor.lockedFile(at: path))
        } catch {
            throw StoreError(.io, "cannot lock lease \(id)", describing: error)
        }
    }

    /// The lock of lease `id` if it has a lock file and its holder has ended; `nil` while the
    /// holder runs, and for a lease nobody holds this way (made by ``LeaseManager/create``).
    static func takeIfAbandoned(directory: String, id: String) -> LeaseLockFile? {
        if case .ended(let lockFile) = check(directory: directory, id: id) { return lockFile }
        return nil
    }

    /// Whether lease `id`'s holder runs, has ended (its lock, taken), or there is none.
    ///
    /// Only an id that is one path component names a lock file: ids from before ids were
    /// checked (``LeaseManager/create``) could spell `../metadata.db`. A lock file that cannot
    /// be opened or locked for any other reason than its absence counts as running: a
    /// collection keeps the lease rather than fail, or free what a live pull uses.
    static func check(directory: String, id: String) -> Check {
        guard !id.isEmpty, id != ".", id != "..", !id.contains("/") else { return .none }
        let path = directory + "/" + id
        let descriptor: OwnedDescriptor
        do {
            descriptor = OwnedDescriptor(taking: try FileDescriptor(rawValue: AT_FDCWD).openEntry(
                path, flags: O_RDONLY | O_NOFOLLOW))
        } catch where error.errno == .noSuchFileOrDirectory {
            return .none
        } catch {
            return .running
        }
        guard (try? descriptor.descriptor.tryLockExclusively(path: path)) == true else { return .running }
        let isRegular = (try? descriptor.descriptor.status(path: path).isRegular) == true
        return isRegular && descriptor.isStillNamed(path) ? .ended(LeaseLockFile(path: path, descriptor: descriptor)) : .none
    }

    enum Check {
        case none
        case running
        case ended(LeaseLockFile)
    }

    /// Removes the file; the lock goes with the last copy of this value.
    func remove() {
        _ = unlink(path)
    }
}
