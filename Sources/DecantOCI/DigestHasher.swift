import Crypto

/// A running SHA-256 that ends in a ``Digest``; keeps swift-crypto (whose own `Digest` protocol
/// would clash with ours) out of the modules that only need to hash streams.
public struct DigestHasher {
    private var hash = SHA256()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hash.update(bufferPointer: bytes)
    }

    public func finalize() -> Digest {
        Digest(hash.finalize())
    }
}
