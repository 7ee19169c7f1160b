import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor with a single owner, closed when the owner goes away.
///
/// `FileDescriptor` (swift-system) is a borrowed integer; this class is what keeps one open. It is
/// `Sendable` because the descriptor number never changes and the kernel object is safe to share.
public final class OwnedDescriptor: Sendable {
    /// The descriptor, valid for as long as this object lives.
    public let descriptor: FileDescriptor

    /// Takes ownership of `descriptor`: it is closed when this object is deinitialized.
    public init(taking descriptor: FileDescriptor) {
        self.descriptor = descriptor
    }

    /// The raw descriptor number, for C calls.
    public var rawValue: CInt { descriptor.rawValue }

    deinit {
        _ = Glibc.close(descriptor.rawValue)
    }
}
