import DecantIO
import DecantOCI

/// Why a layer could not be applied: what failed, in which layer, at which entry.
///
/// When this is thrown the target directory holds a partial layer; the caller discards it (the
/// snapshotter removes the active snapshot). Nothing outside the target directory was touched.
public struct LayerError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is, stable for scripts (`--json` prints it).
    public enum Code: String, Sendable, Codable {
        /// The blob could not be read.
        case source
        /// The declared media type does not match the bytes.
        case mediaTypeMismatch = "media-type-mismatch"
        /// The compressed or tar stream ends too early.
        case truncated
        /// The compressed stream is damaged.
        case corrupt
        /// Bytes follow the end of the compressed stream.
        case trailingData = "trailing-data"
        /// A tar header is malformed (checksum, numbers, PAX records).
        case invalidHeader = "invalid-header"
        /// An entry type a layer may not hold (GNU sparse, unknown typeflags).
        case unsupportedEntry = "unsupported-entry"
        /// A whiteout name that would leave its directory.
        case invalidWhiteout = "invalid-whiteout"
        /// An entry name Decant cannot represent (not UTF-8).
        case invalidName = "invalid-name"
        /// A system call on the target directory failed.
        case filesystem
        /// The caller cancelled the application (``CancellationFlag``).
        case cancelled
    }

    public var code: Code
    /// The layer, as the caller named it (a digest or a file path).
    public var layer: String
    /// The entry's path inside the layer, when the failure concerns one.
    public var entry: String?
    /// What went wrong, in words.
    public var message: String
    /// The failed system call, for `filesystem` and `source` errors.
    public var cause: SystemCallError?
    /// For an error in the layer's content: the digest and size of the blob's bytes, read to
    /// their end after the failure, for the caller to compare with the descriptor.
    public var blob: (digest: Digest, size: Int64)?

    public init(_ code: Code, layer: String, entry: String? = nil, message: String, cause: SystemCallError? = nil) {
        self.code = code
        self.layer = layer
        self.entry = entry
        self.message = message
        self.cause = cause
    }

    public var description: String {
        "layer \(layer): " + detail
    }

    /// A failure of the bytes themselves (not of the file system, the source or a cancellation):
    /// bytes that are not the blob would explain it.
    public var isContentError: Bool {
        switch code {
        case .mediaTypeMismatch, .truncated, .corrupt, .trailingData, .invalidHeader, .unsupportedEntry, .invalidWhiteout, .invalidName: true
        case .source, .filesystem, .cancelled: false
        }
    }

    /// The description without the layer, for callers that name the layer themselves.
    public var detail: String {
        var text = entry.map { "entry \($0): " } ?? ""
        text += message
        if let cause { text += ": \(cause)" }
        return text
    }
}
