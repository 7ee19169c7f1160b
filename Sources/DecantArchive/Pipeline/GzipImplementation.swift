/// Which library inflates gzip layers.
public enum GzipImplementation: String, Sendable, CaseIterable, Codable {
    /// ISA-L's `isal_inflate`: about twice zlib's speed on this hardware.
    case isal
    /// zlib's `inflate`: the portable fallback.
    case zlib
}
